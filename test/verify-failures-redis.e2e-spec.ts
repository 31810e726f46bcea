import { Redis } from 'ioredis';
import { createHuman, createMachineWithToken, createOrg, randomMobile } from './support/factories';
import { eventsOf } from './support/events';
import { OwnRedis } from './support/own-servers';
import { phoneApi, phoneCodeRow, phoneErrors, wrongCodeFor } from './support/phone-api';
import type { Response } from 'supertest';
import { DATABASES, dataSourceOf, startApp, TestApp } from './support/test-app';

const MAX_FAILED_PER_DAY = 2;

/**
 * Issue 26, finding 9: with REDIS_URL the daily failure limit lives in Redis, which the user's
 * row lock does not order. Each check's failure is taken in Redis before its code is compared (and
 * given back when the code matches), so checks made in parallel never pass the limit together.
 */
describe.each(DATABASES)('daily failure limit in Redis, parallel checks (%s)', (db) => {
  let redis: OwnRedis | undefined;
  let probe: Redis | undefined;
  let t: TestApp | undefined;
  let api: ReturnType<typeof phoneApi>;

  /** The entries of the user's daily failure count in Redis. */
  const failuresInRedis = (userId: string) => probe!.zcard(`pv:limit:verify:failed:${userId}`);

  /**
   * `n` calls of `request` made together. On PostgreSQL they are made while another transaction
   * holds the user's row lock, released only once every call waits for it: each has issued all
   * it issues before the lock is held (as a burst from several clients makes them), and they then
   * run one after the other. (SQLite, one instance, runs one transaction at a time.)
   */
  async function together(userId: string, n: number, request: () => PromiseLike<Response>): Promise<Response[]> {
    if (db === 'sqlite') return Promise.all(Array.from({ length: n }, () => request()));
    const holder = dataSourceOf(t!).createQueryRunner();
    await holder.connect();
    try {
      await holder.startTransaction();
      await holder.query('SELECT id FROM users WHERE id = $1 FOR UPDATE', [userId]);
      const [{ pid }] = await holder.query('SELECT pg_backend_pid() AS pid');
      const calls = Promise.all(Array.from({ length: n }, () => request()));
      calls.catch(() => undefined); // awaited below, unless the wait fails first
      // the backends waiting behind the holder, directly or behind another waiter (read outside the
      // holder's transaction, whose view of pg_stat_activity stays as it first read it)
      const waiting = async () => {
        const [row] = await dataSourceOf(t!).query(
          `WITH RECURSIVE blocked(pid) AS (
             SELECT $1::int
             UNION
             SELECT a.pid FROM pg_stat_activity a, blocked b WHERE b.pid = ANY(pg_blocking_pids(a.pid))
           ) SELECT count(*) - 1 AS n FROM blocked`,
          [pid],
        );
        return Number(row.n);
      };
      const end = Date.now() + 20_000;
      while ((await waiting()) < n) {
        if (Date.now() > end) throw new Error(`fewer than ${n} checks wait for the user's row lock`);
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
      await holder.rollbackTransaction();
      return await calls;
    } finally {
      if (holder.isTransactionActive) await holder.rollbackTransaction();
      await holder.release();
    }
  }

  beforeAll(async () => {
    redis = await OwnRedis.start();
    probe = new Redis(redis.url, { lazyConnect: true, maxRetriesPerRequest: 1 });
    await probe.connect();
    t = await startApp(db, {
      REDIS_URL: redis.url,
      PHONE_CODE_MAX_ATTEMPTS: '5',
      PHONE_MAX_FAILED_PER_DAY: String(MAX_FAILED_PER_DAY),
      // the checks wait for a row lock the test holds (see together)
      DATABASE_STATEMENT_TIMEOUT: '10s',
    });
    api = phoneApi(t);
  }, 60_000);

  afterAll(async () => {
    await t?.close();
    probe?.disconnect();
    await redis?.stop();
  }, 60_000);

  it(`five parallel wrong codes: ${MAX_FAILED_PER_DAY} are compared, the rest refused by the daily limit`, async () => {
    const { userId, phoneCode } = await createHuman(t!, { phone: randomMobile(), phoneMode: 'returnCode' });
    const wrong = wrongCodeFor(phoneCode!);

    const responses = await together(userId, 5, () => api.verify(userId, wrong));

    const wrongCode = responses.filter((r) => r.status === 400);
    const limited = responses.filter((r) => r.status === 429);
    expect([wrongCode.length, limited.length]).toEqual([MAX_FAILED_PER_DAY, 5 - MAX_FAILED_PER_DAY]);
    const left = wrongCode.map((r) => Number(r.body.details[1].metadata.attemptsRemaining)).sort();
    expect(left).toEqual([3, 4]);
    wrongCode.forEach((res) => phoneErrors.wrongCode(res, Number(res.body.details[1].metadata.attemptsRemaining)));
    for (const res of limited) {
      phoneErrors.rateLimited(res);
      expect(res.body.details[1].metadata.limit).toBe('failed_checks_per_day');
      expect(Number(res.headers['retry-after'])).toBeGreaterThan(0);
    }
    expect(await failuresInRedis(userId)).toBe(MAX_FAILED_PER_DAY);
    // the refused checks used no attempt of the code
    expect((await phoneCodeRow(t!, userId))!.attempts).toBe(MAX_FAILED_PER_DAY);
    // one event per counted failure; the one that reached the limit says the user is locked out
    const failures = (await eventsOf(t!, userId)).filter((e) => e.type === 'user.human.phone.verification.failed');
    expect(failures.map((e) => e.payload.lockedOut ?? false).sort()).toEqual([false, true]);

    // locked out: even the right code is refused, and nothing more is counted
    phoneErrors.rateLimited(await api.verify(userId, phoneCode));
    expect(await failuresInRedis(userId)).toBe(MAX_FAILED_PER_DAY);
  }, 60_000);

  it('a right code counts no failure: the one taken before the comparison is given back', async () => {
    const { userId, phoneCode } = await createHuman(t!, { phone: randomMobile(), phoneMode: 'returnCode' });
    phoneErrors.wrongCode(await api.verify(userId, wrongCodeFor(phoneCode!)), 4);
    expect(await failuresInRedis(userId)).toBe(1);
    expect((await api.verify(userId, phoneCode)).status).toBe(200);
    expect(await failuresInRedis(userId)).toBe(1);
  }, 60_000);

  it('spends none of the user’s failures for a caller refused its token or the user, nor with no code pending', async () => {
    const { userId, phoneCode } = await createHuman(t!, { phone: randomMobile(), phoneMode: 'returnCode' });
    const wrong = wrongCodeFor(phoneCode!);
    const stranger = await createMachineWithToken(t!, await createOrg(t!));
    const refused = await Promise.all([
      ...Array.from({ length: 3 }, () => phoneApi(t!, 'not-a-token').verify(userId, wrong)),
      ...Array.from({ length: 3 }, () => phoneApi(t!, stranger.token).verify(userId, wrong)),
    ]);
    expect(refused.map((r) => r.status)).toEqual([401, 401, 401, 404, 404, 404]);
    expect(await failuresInRedis(userId)).toBe(0);

    const { userId: without } = await createHuman(t!);
    const noCode = await Promise.all(Array.from({ length: 3 }, () => api.verify(without, wrong)));
    noCode.forEach((res) => phoneErrors.noCode(res));
    expect(await failuresInRedis(without)).toBe(0);

    // the user's own budget is whole
    const responses = await together(userId, 3, () => api.verify(userId, wrong));
    expect(responses.map((r) => r.status).sort()).toEqual([400, 400, 429]);
  }, 60_000);
});
