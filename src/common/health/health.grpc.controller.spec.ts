import { Subscription } from 'rxjs';
import { Readiness } from '../shutdown/readiness';
import { ReadinessChecks } from './readiness-checks';
import { HealthGrpcController, WATCH_POLL_MS } from './health.grpc.controller';

/** Readiness checks whose answers the test sets, counting how often they are run. */
class FakeHealth {
  up = true;
  asked = 0;
  isReady(): Promise<boolean> {
    this.asked++;
    return Promise.resolve(this.up);
  }
}

describe('HealthGrpcController.watch', () => {
  let db: FakeHealth;
  let controller: HealthGrpcController;
  let readiness: Readiness;
  const subscriptions: Subscription[] = [];

  beforeEach(() => {
    jest.useFakeTimers();
    db = new FakeHealth();
    readiness = new Readiness();
    controller = new HealthGrpcController(db as unknown as ReadinessChecks, readiness);
  });
  afterEach(() => {
    subscriptions.splice(0).forEach((s) => s.unsubscribe());
    jest.useRealTimers();
  });

  function watch(service = '') {
    const seen: string[] = [];
    let ended = false;
    subscriptions.push(
      controller.watch({ service }).subscribe({
        next: (m) => seen.push(m.status),
        complete: () => (ended = true),
      }),
    );
    return { seen, ended: () => ended };
  }

  const tick = async (ms: number) => {
    await jest.advanceTimersByTimeAsync(ms);
  };

  it('sends the current status, then only the changes, and stays open', async () => {
    const w = watch();
    await tick(0);
    expect(w.seen).toEqual(['SERVING']);
    await tick(WATCH_POLL_MS * 3);
    expect(w.seen).toEqual(['SERVING']);
    db.up = false;
    await tick(WATCH_POLL_MS);
    expect(w.seen).toEqual(['SERVING', 'NOT_SERVING']);
    db.up = true;
    await tick(WATCH_POLL_MS);
    expect(w.seen).toEqual(['SERVING', 'NOT_SERVING', 'SERVING']);
    expect(w.ended()).toBe(false);
  });

  it('asks the database once per interval however many Watches are open, and not at all when none is', async () => {
    const a = watch();
    await tick(0);
    const b = watch('zitadel.user.v2.UserService');
    await tick(0);
    // the second watcher gets the last status at once, without a query of its own
    expect([a.seen, b.seen, db.asked]).toEqual([['SERVING'], ['SERVING'], 1]);
    await tick(WATCH_POLL_MS * 5);
    expect(db.asked).toBe(6);
    subscriptions.splice(0).forEach((s) => s.unsubscribe());
    await tick(WATCH_POLL_MS * 5);
    expect(db.asked).toBe(6);
  });

  it('reports an unknown service as SERVICE_UNKNOWN and keeps the stream open', async () => {
    const w = watch('no.such.Service');
    await tick(WATCH_POLL_MS * 3);
    expect(w.seen).toEqual(['SERVICE_UNKNOWN']);
    expect(w.ended()).toBe(false);
    expect(db.asked).toBe(0);
  });

  it('ends every Watch with NOT_SERVING when the server shuts down, and answers later ones the same', async () => {
    const known = watch();
    const unknown = watch('no.such.Service');
    await tick(0);
    controller.onModuleDestroy();
    expect(known.seen).toEqual(['SERVING', 'NOT_SERVING']);
    expect(unknown.seen).toEqual(['SERVICE_UNKNOWN', 'NOT_SERVING']);
    expect([known.ended(), unknown.ended()]).toEqual([true, true]);
    const late = watch();
    await tick(0);
    expect([late.seen, late.ended()]).toEqual([['NOT_SERVING'], true]);
  });

  it('turns NOT_SERVING the moment the shutdown starts: open Watches end with it, Check answers it', async () => {
    const known = watch();
    await tick(0);
    readiness.stop();
    expect([known.seen, known.ended()]).toEqual([['SERVING', 'NOT_SERVING'], true]);
    expect(await controller.check({ service: '' })).toEqual({ status: 'NOT_SERVING' });
    // the database is not even asked
    expect(db.asked).toBe(1);
    controller.onModuleDestroy(); // later, with the app: changes nothing
    expect(known.seen).toEqual(['SERVING', 'NOT_SERVING']);
  });
});
