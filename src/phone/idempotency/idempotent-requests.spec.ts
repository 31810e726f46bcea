import { CallerRef } from '../../common/auth/caller-ref';
import { AppError } from '../../common/errors/app-error';
import { GrpcStatus } from '../../common/errors/grpc-status';
import { ManualClock } from '../../../test/support/fakes/clock';
import { codeMac } from '../../../test/support/fakes/config';
import { FakeIdempotentRows, idempotentRequests } from '../../../test/support/fakes/idempotent-requests';
import type { RequestOrigin } from '../../common/throttle/client-address';
import { IDEMPOTENCY_TTL_MS, scopeOf } from './idempotency-rules';
import { IdempotentCall, IdempotentRequests } from './idempotent-requests';

const CALLER = { userId: '100', orgId: '1', grants: [] };

describe(IdempotentRequests.name, () => {
  let clock: ManualClock;
  let rows: FakeIdempotentRows;
  let sut: IdempotentRequests;
  let runs: number;
  let replays: number;

  beforeEach(() => {
    clock = new ManualClock();
    ({ service: sut, rows } = idempotentRequests(codeMac(), clock));
    runs = 0;
    replays = 0;
  });

  const call = (key: string | undefined, request: object = { phone: '+41791234567' }): IdempotentCall => {
    const origin: RequestOrigin = { clientAddress: '192.0.2.1', markReplayed: () => replays++ };
    if (key !== undefined) origin.idempotencyKey = key;
    return { ref: CallerRef.of(CALLER), method: 'SetPhone', origin, request };
  };
  const work =
    (answer: unknown = { sent: true, at: new Date('2026-03-01T12:00:00Z') }) =>
    async () => {
      runs++;
      if (answer instanceof Error) throw answer;
      return answer;
    };

  it('without a key runs every call', async () => {
    await sut.run(call(undefined), work());
    await sut.run(call(undefined), work());
    expect([runs, rows.rows.size]).toEqual([2, 0]);
  });

  it('answers a repeat with the first answer, runs it once and marks it replayed', async () => {
    const first = await sut.run(call('k'), work());
    const repeat = await sut.run(call('k'), work({ other: true }));
    expect(repeat).toEqual(first);
    expect([runs, replays]).toEqual([1, 1]);
  });

  it('refuses the same key with another request, FAILED_PRECONDITION and 422', async () => {
    await sut.run(call('k'), work());
    await expect(sut.run(call('k', { phone: '+41790000000' }), work())).rejects.toMatchObject({
      code: GrpcStatus.FAILED_PRECONDITION,
      id: 'IDEM-r3us3d',
      extras: { http: { status: 422 }, info: { reason: 'IDEMPOTENCY_KEY_REUSED', metadata: { method: 'SetPhone' } } },
    });
    expect(runs).toBe(1);
  });

  it('replays a client error the use-case answered', async () => {
    const refused = new AppError(GrpcStatus.FAILED_PRECONDITION, 'COMMAND-Uch5e', 'Phone not changed');
    await expect(sut.run(call('k'), work(refused))).rejects.toBe(refused);
    await expect(sut.run(call('k'), work())).rejects.toMatchObject({ code: refused.code, id: refused.id });
    expect([runs, replays]).toEqual([1, 1]);
  });

  it('gives the key back after an outage, so the retry runs', async () => {
    const outage = new AppError(GrpcStatus.UNAVAILABLE, 'DB-down', 'The database is unavailable');
    await expect(sut.run(call('k'), work(outage))).rejects.toBe(outage);
    await expect(sut.run(call('k'), work({ sent: 1 }))).resolves.toEqual({ sent: 1 });
    expect([runs, replays]).toEqual([2, 0]);
  });

  it('runs parallel repeats one after the other: the first runs, the others replay', async () => {
    const answers = await Promise.all(Array.from({ length: 5 }, () => sut.run(call('k'), work())));
    for (const answer of answers) expect(answer).toEqual(answers[0]);
    expect([runs, replays]).toEqual([1, 4]);
  });

  it('answers ABORTED when another instance holds the claim past the wait', async () => {
    sut.waitMs = 0;
    const id = scopeOf(CALLER.userId, 'SetPhone', 'k');
    const other = idempotentRequests(codeMac(), clock, rows).service;
    let release!: () => void;
    const held = other.run(call('k'), () => new Promise((resolve) => (release = () => resolve({ sent: true }))));
    await new Promise((resolve) => setImmediate(resolve));
    expect(rows.rows.get(id)?.answer).toBeNull();
    await expect(sut.run(call('k'), work())).rejects.toMatchObject({
      code: GrpcStatus.ABORTED,
      id: 'IDEM-b1sy',
      extras: { info: { reason: 'IDEMPOTENCY_IN_PROGRESS' } },
    });
    release();
    await held;
    await expect(sut.run(call('k'), work())).resolves.toEqual({ sent: true });
    expect(runs).toBe(0);
  });

  it('waits for a claim held by another instance and replays its answer once stored', async () => {
    sut.pollMs = 0;
    const other = idempotentRequests(codeMac(), clock, rows).service;
    let release!: () => void;
    const held = other.run(call('k'), () => new Promise((resolve) => (release = () => resolve({ sent: 'other' }))));
    await new Promise((resolve) => setImmediate(resolve));
    const find = rows.find.bind(rows);
    // the other instance answers while this one polls
    rows.find = async (id, now) => {
      release();
      await held;
      return find(id, now);
    };
    await expect(sut.run(call('k'), work())).resolves.toEqual({ sent: 'other' });
    expect([runs, replays]).toEqual([0, 1]);
  });

  it('takes a key 24 h old as new', async () => {
    await sut.run(call('k'), work());
    clock.advance(IDEMPOTENCY_TTL_MS);
    await sut.run(call('k', { phone: '+41790000000' }), work());
    expect([runs, replays]).toEqual([2, 0]);
  });

  it('keys are per caller', async () => {
    await sut.run(call('k'), work());
    await sut.run({ ...call('k'), ref: CallerRef.of({ ...CALLER, userId: '200' }) }, work());
    expect(runs).toBe(2);
  });

  it('stores the answer sealed: a returned code is not in the row', async () => {
    await sut.run(call('k'), work({ verificationCode: '424242' }));
    const [row] = [...rows.rows.values()];
    expect(row.answer).toMatch(/^v1\./);
    expect(row.answer).not.toContain('424242');
  });

  it('refuses an invalid key before it runs anything', async () => {
    await expect(sut.run(call('k'.repeat(256)), work())).rejects.toMatchObject({ id: 'IDEM-k3yfmt' });
    expect(runs).toBe(0);
  });
});
