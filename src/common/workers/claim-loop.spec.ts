import { DependencyError } from '../errors/dependency-error';
import { DependencyOutages } from '../errors/dependency-outages';
import type { AppLogger } from '../logging/app-logger';
import { ClaimJob, ClaimLoop } from './claim-loop';

interface Row {
  id: string;
}

/** A delivery the spec ends by hand. */
interface Pending {
  row: Row;
  end: (error?: unknown) => void;
}

const connectionRefused = () => Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' });

describe(ClaimLoop.name, () => {
  let due: Row[];
  let pending: Pending[];
  let claims: number[];
  let errors: Array<{ fields: object; msg: string }>;
  let outages: DependencyOutages;
  let claimFault: unknown;
  let loopLogger: AppLogger;

  beforeEach(() => {
    due = [];
    pending = [];
    claims = [];
    errors = [];
    claimFault = undefined;
    const logger = {
      setContext: () => undefined,
      info: () => undefined,
      error: (fields: object, msg: string) => errors.push({ fields, msg }),
    } as unknown as AppLogger;
    outages = new DependencyOutages(logger);
    loopLogger = logger;
  });
  afterEach(() => jest.useRealTimers());

  function loop(lookAgain: ClaimJob<Row>['lookAgain'], concurrency = 2): ClaimLoop<Row> {
    const job: ClaimJob<Row> = {
      concurrency: () => concurrency,
      claim: (free) => {
        claims.push(free);
        if (claimFault) return Promise.reject(claimFault);
        return Promise.resolve(due.splice(0, free));
      },
      deliver: (row) =>
        new Promise<void>((resolve, reject) =>
          pending.push({ row, end: (error) => (error ? reject(error) : resolve()) }),
        ),
      lookAgain,
      describe: (row) => ({ rowId: row.id }),
      drainFailed: 'drain failed',
      deliveryFailed: 'delivery failed',
    };
    return new ClaimLoop(job, loopLogger, outages);
  }
  const rows = (n: number) => Array.from({ length: n }, (_, i) => ({ id: String(i + 1) }));
  const settle = () => new Promise((resolve) => setImmediate(resolve));

  it('claims for the free slots only and starts the deliveries without waiting for them', async () => {
    due = rows(3);
    const sut = loop('onBacklog');
    sut.kick();
    await settle();
    expect(claims).toEqual([2]);
    expect(pending.map((p) => p.row.id)).toEqual(['1', '2']);
    expect(due).toHaveLength(1);
  });

  it('with a backlog, an ended delivery looks again; without one it does not (onBacklog)', async () => {
    due = rows(3);
    const sut = loop('onBacklog');
    sut.kick();
    await settle();
    pending[0].end();
    await settle();
    expect(claims).toEqual([2, 1]);
    expect(pending.map((p) => p.row.id)).toEqual(['1', '2', '3']);
    pending[1].end();
    await settle();
    pending[2].end();
    await sut.idle();
    expect(claims).toEqual([2, 1, 1]); // the last claim took fewer than there were slots: no backlog
    pending.splice(0);
    due = rows(1);
    sut.kick();
    await settle();
    pending[0].end();
    await sut.idle();
    expect(claims).toEqual([2, 1, 1, 2]);
  });

  it("an ended delivery always looks again with 'always'", async () => {
    due = rows(1);
    const sut = loop('always');
    sut.kick();
    await settle();
    pending[0].end();
    await sut.idle();
    expect(claims).toEqual([2, 2]);
  });

  it('coalesces the kicks made while a claim is under way into one more claim', async () => {
    const sut = loop('onBacklog');
    sut.kick();
    sut.kick();
    sut.kick();
    await sut.idle();
    expect(claims).toEqual([2, 2]);
  });

  it('counts a database outage towards the outage, logs any other failure with the row, and goes on', async () => {
    claimFault = connectionRefused();
    const sut = loop('onBacklog');
    sut.kick();
    await sut.idle();
    expect(outages.isDown('database')).toBe(true);
    expect(errors.map((e) => e.msg)).toEqual(['database unavailable: answering 503 until it recovers']);
    claimFault = undefined;
    due = rows(1);
    sut.kick();
    await settle();
    pending[0].end(new Error('bug'));
    await sut.idle();
    expect(errors[1]).toMatchObject({ msg: 'delivery failed', fields: { rowId: '1' } });
    claimFault = new DependencyError('sms', new Error('not a database fault'));
    sut.kick();
    await sut.idle();
    expect(errors[2].msg).toBe('drain failed');
  });

  it('looks on its timer once started, reports running until stopped, and stop waits for deliveries in flight', async () => {
    jest.useFakeTimers();
    const sut = loop('onBacklog');
    expect(sut.running).toBe(false);
    sut.start(1_000);
    expect(sut.running).toBe(true);
    await jest.advanceTimersByTimeAsync(0);
    expect(claims).toEqual([2]);
    due = rows(1);
    await jest.advanceTimersByTimeAsync(1_000);
    expect(claims).toEqual([2, 2]);
    let stopped = false;
    const stopping = sut.stop().then(() => (stopped = true));
    expect(sut.running).toBe(false);
    await jest.advanceTimersByTimeAsync(0);
    expect(stopped).toBe(false);
    pending[0].end();
    await stopping;
    await jest.advanceTimersByTimeAsync(5_000);
    sut.kick();
    expect(claims).toEqual([2, 2]);
  });

  it('without an interval it looks once at start and keeps no timer', async () => {
    jest.useFakeTimers();
    const sut = loop('always');
    sut.start(undefined);
    await jest.advanceTimersByTimeAsync(10_000);
    expect(claims).toEqual([2]);
    expect(sut.running).toBe(false);
  });
});
