import { Redis } from 'ioredis';
import { LimitBackoffEntity } from '../src/common/limits/limit-backoff.entity';
import { createHuman, createOrg, randomMobile } from './support/factories';
import { until } from './support/wait';
import { OwnRedis } from './support/own-servers';
import { scrape, valueOf } from './support/prometheus';
import { RoundTripProxy } from './support/round-trip-proxy';
import { bearer, DATABASES, dataSourceOf, Db, freePort, PG_URL, startApp, TestApp } from './support/test-app';
import { CallResult, transportCaller } from './support/transports';
import { ERROR_DETAIL, ERROR_INFO, RETRY_INFO } from './support/wire';
import { outboxCount } from './support/outbox';
import { phoneApi } from './support/phone-api';

jest.setTimeout(60_000);

const SECOND = 1_000;
const REDIS_URL = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';

/** Only the back-off limits sends here: no cooldown, the other limits far away. */
const BACKOFF_ENV = {
  SMS_PROVIDER: 'none',
  SMS_RESEND_COOLDOWN: '0s',
  SMS_MAX_PER_USER_PER_HOUR: '100',
  SMS_MAX_PER_NUMBER_PER_DAY: '1000',
  SMS_BACKOFF_BASE: '60s',
  SMS_BACKOFF_FREE_SENDS: '3',
  SMS_BACKOFF_MAX: '10m',
};

/** What one send came to: sent, or refused by the back-off after `seconds` (Retry-After / RetryInfo). */
type Sent = { ok: true } | { ok: false; seconds: number };

/** The calls of the scenario over one transport, as the instance admin. */
interface Phone {
  set(userId: string, number: string): Promise<Sent>;
  resend(userId: string): Promise<Sent>;
  /** a new code returned (no SMS), then verified */
  verifyWithReturnedCode(userId: string): Promise<void>;
  close(): void;
}

/** The refusal of a send by the back-off, exactly, over any transport; returns its seconds. */
function backoffRefusal(result: CallResult): number {
  expect(result.ok).toBe(false);
  if (result.ok) return 0;
  const retry = result.details.find((d) => d['@type'] === RETRY_INFO) as { retryDelay: string } | undefined;
  const seconds = Number(/^(\d+)s$/.exec(retry?.retryDelay ?? '')?.[1]);
  expect({ code: result.code, message: result.message, details: result.details }).toEqual({
    code: 8,
    message: 'Try again later (PHONE-ratelimit)',
    details: [
      { '@type': ERROR_DETAIL, id: 'PHONE-ratelimit', message: 'Try again later' },
      {
        '@type': ERROR_INFO,
        reason: 'RATE_LIMITED',
        domain: 'phone-verify',
        metadata: { limit: 'sms_backoff', retryAfterSeconds: String(seconds) },
      },
      { '@type': RETRY_INFO, retryDelay: `${seconds}s` },
    ],
  });
  return seconds;
}

function restPhone(t: TestApp): Phone {
  const post = (path: string, body: object) => t.http().post(path).set(bearer(t.adminToken)).send(body);
  const sent = (res: { status: number; body: any; headers: Record<string, string> }): Sent => {
    if (res.status === 200) return { ok: true };
    expect(res.status).toBe(429);
    const seconds = backoffRefusal({ ok: false, ...res.body });
    expect(res.headers['retry-after']).toBe(String(seconds));
    return { ok: false, seconds };
  };
  return {
    set: async (userId, number) => sent(await post(`/v2/users/${userId}/phone`, { phone: number, sendCode: {} })),
    resend: async (userId) => sent(await post(`/v2/users/${userId}/phone/resend`, { sendCode: {} })),
    async verifyWithReturnedCode(userId) {
      const returned = await post(`/v2/users/${userId}/phone/resend`, { returnCode: {} }).expect(200);
      await post(`/v2/users/${userId}/phone/verify`, { verificationCode: returned.body.verificationCode }).expect(200);
    },
    close() {},
  };
}

function grpcPhone(t: TestApp): Phone {
  const caller = transportCaller(t, 'grpc');
  const call = (method: string, request: Record<string, unknown>) =>
    caller.call('UserService', method, request as never, t.adminToken);
  const sent = (result: CallResult): Sent =>
    result.ok ? { ok: true } : { ok: false, seconds: backoffRefusal(result) };
  return {
    set: async (userId, phone) => sent(await call('SetPhone', { userId, phone, sendCode: {} })),
    resend: async (userId) => sent(await call('ResendPhoneCode', { userId, sendCode: {} })),
    async verifyWithReturnedCode(userId) {
      const returned = await call('ResendPhoneCode', { userId, returnCode: {} });
      if (!returned.ok) throw new Error(`ResendPhoneCode failed: ${returned.message}`);
      const verified = await call('VerifyPhone', { userId, verificationCode: returned.response.verificationCode });
      expect(verified.ok).toBe(true);
    },
    close: () => caller.close(),
  };
}

/** A wait of `nominal` seconds, less up to 20 % jitter, as whole seconds rounded up. */
function expectWait(seconds: number, nominal: number): void {
  expect(seconds).toBeGreaterThanOrEqual(Math.floor(nominal * 0.8));
  expect(seconds).toBeLessThanOrEqual(nominal);
}

/**
 * Three sends to a number go at once; the 4th waits about 60 s, the 5th about 120 s, the 6th
 * about 240 s (each less up to 20 %); a refused send counts for nothing; another user sending to
 * the number is not held up (the back-off counts per number and user, issue 26); the number's
 * verification starts the user's back-off over.
 */
async function backoffScenario(t: TestApp, phone: Phone, orgId: string): Promise<string> {
  const number = randomMobile();
  const { userId } = await createHuman(t, { orgId });
  const other = (await createHuman(t, { orgId })).userId;

  expect(await phone.set(userId, number)).toEqual({ ok: true });
  expect(await phone.resend(userId)).toEqual({ ok: true });
  expect(await phone.resend(userId)).toEqual({ ok: true });

  const waits: number[] = [];
  for (const nominal of [60, 120, 240]) {
    const refused = await phone.resend(userId);
    if (refused.ok) throw new Error(`a send was not refused (expected a wait of about ${nominal} s)`);
    expectWait(refused.seconds, nominal);
    waits.push(refused.seconds);
    // a refused send counts nothing: the same wait is still due, no later
    t.clock.advance((refused.seconds - 2) * SECOND);
    const again = await phone.resend(userId);
    expect(again).toEqual({ ok: false, seconds: expect.any(Number) });
    expect((again as { seconds: number }).seconds).toBeLessThanOrEqual(2);
    t.clock.advance(2 * SECOND);
    expect(await phone.resend(userId)).toEqual({ ok: true });
  }
  // each wait about twice the one before (within the jitter's bounds)
  for (let i = 1; i < waits.length; i++) {
    expect(waits[i] / waits[i - 1]).toBeGreaterThanOrEqual(1.6 - 0.05);
    expect(waits[i] / waits[i - 1]).toBeLessThanOrEqual(2.5 + 0.05);
  }
  expect(await outboxCount(t, userId)).toBe(6);
  expect(await outboxCount(t, other)).toBe(0);

  // still waiting about 480 s, which holds up no other user of the number
  const waiting = await phone.resend(userId);
  expect(waiting.ok).toBe(false);
  expect(await phone.set(other, number)).toEqual({ ok: true });
  expect(await outboxCount(t, other)).toBe(1);
  // the number's verification ends the user's wait: set again, three sends go at once
  await phone.verifyWithReturnedCode(userId);
  expect(await phone.set(userId, randomMobile())).toEqual({ ok: true });
  expect(await phone.set(userId, number)).toEqual({ ok: true });
  expect(await phone.resend(userId)).toEqual({ ok: true });
  expect(await phone.resend(userId)).toEqual({ ok: true });
  const restarted = await phone.resend(userId);
  if (restarted.ok) throw new Error('the 4th send after the verification was not refused');
  expectWait(restarted.seconds, 60);
  return number;
}

describe.each(DATABASES)('progressive back-off per number (%s)', (db: Db) => {
  let t: TestApp;
  let orgId: string;

  beforeAll(async () => {
    t = await startApp(db, { ...BACKOFF_ENV, METRICS_PORT: String(await freePort()) });
    orgId = await createOrg(t);
  }, 60_000);
  afterAll(() => t?.close(), 60_000);

  it.each([
    ['REST', restPhone],
    ['gRPC', grpcPhone],
  ])('over %s: the waits double, are each user’s own and end with the number’s verification', async (_n, make) => {
    const phone = make(t);
    try {
      await backoffScenario(t, phone, orgId);
    } finally {
      phone.close();
    }
  });

  it('holds under concurrent sends to one number by one user: one passes, the others wait', async () => {
    const phone = restPhone(t);
    const number = randomMobile();
    const { userId } = await createHuman(t, { orgId });
    expect(await phone.set(userId, number)).toEqual({ ok: true });
    expect(await phone.resend(userId)).toEqual({ ok: true });
    // the third send is the last free one, and makes the next wait
    const results = await Promise.all(Array.from({ length: 4 }, () => phone.resend(userId)));
    expect(results.filter((r) => r.ok)).toHaveLength(1);
    for (const refused of results.filter((r) => !r.ok)) expectWait((refused as { seconds: number }).seconds, 60);
    const row = await dataSourceOf(t)
      .getRepository(LimitBackoffEntity)
      .findOneBy({ key: `sms:backoff:${number}:${userId}` });
    expect(row?.sends).toBe(3);
  });

  it('keeps one row per number and user in the database, deleted by the verification; counts refusals and waits', async () => {
    const before = await scrape(t);
    const phone = restPhone(t);
    const number = randomMobile();
    const { userId } = await createHuman(t, { orgId });
    await phone.set(userId, number);
    await phone.resend(userId);
    await phone.resend(userId);
    const rows = dataSourceOf(t).getRepository(LimitBackoffEntity);
    expect(await rows.findOneBy({ key: `sms:backoff:${number}:${userId}` })).toMatchObject({ sends: 3 });
    expect((await phone.resend(userId)).ok).toBe(false);
    const after = await scrape(t);
    expect(
      valueOf(after, 'pv_limit_refusals_total', { limit: 'sms_backoff' }) -
        valueOf(before, 'pv_limit_refusals_total', { limit: 'sms_backoff' }),
    ).toBe(1);
    // the 3rd send imposed the first wait (48-60 s)
    const count = (s: typeof after) => valueOf(s, 'pv_sms_backoff_wait_seconds_count');
    const sum = (s: typeof after) => valueOf(s, 'pv_sms_backoff_wait_seconds_sum');
    expect(count(after) - count(before)).toBe(1);
    expect(sum(after) - sum(before)).toBeGreaterThan(48);
    expect(sum(after) - sum(before)).toBeLessThanOrEqual(60);
    await phone.verifyWithReturnedCode(userId);
    expect(await rows.findOneBy({ key: `sms:backoff:${number}:${userId}` })).toBeNull();
  });
});

describe('progressive back-off per number: VerifyPhone’s round trips (postgres)', () => {
  /** The round trips to PostgreSQL of one successful VerifyPhone (the outbox worker asleep meanwhile). */
  async function verifyRoundTrips(env: Record<string, string>): Promise<number> {
    const proxy = await RoundTripProxy.start(PG_URL);
    try {
      const t = await startApp('postgres', {
        ...BACKOFF_ENV,
        SMS_POLL_INTERVAL: '1m',
        ...env,
        DATABASE_URL: proxy.url(PG_URL),
      });
      try {
        const { userId, phoneCode } = await createHuman(t, { phone: randomMobile(), phoneMode: 'returnCode' });
        const [before, opened] = [proxy.count, proxy.opened];
        await phoneApi(t).verify(userId, phoneCode).expect(200);
        // a connection's start-up would count as round trips of its own
        expect(proxy.opened - opened).toBe(0);
        return proxy.count - before;
      } finally {
        await t.close();
      }
    } finally {
      await proxy.close();
    }
  }

  it('are as many with the back-off as without it: the reset travels with the closing writes', async () => {
    const without = await verifyRoundTrips({ SMS_BACKOFF_BASE: '0s' });
    const withBackoff = await verifyRoundTrips({});
    expect(without).toBeGreaterThan(0);
    expect(withBackoff).toBe(without);
  });
});

describe('progressive back-off per number, in Redis (REDIS_URL)', () => {
  let t: TestApp;
  let redis: Redis;
  let orgId: string;
  const myKeys: string[] = [];

  beforeAll(async () => {
    t = await startApp('postgres', { ...BACKOFF_ENV, REDIS_URL });
    redis = new Redis(REDIS_URL);
    orgId = await createOrg(t);
  }, 60_000);
  afterAll(async () => {
    // only what this file created (the users' own limit keys age out within the hour)
    const keys = (await redis.keys('pv:*')).filter((key) => myKeys.some((mine) => key.endsWith(mine)));
    if (keys.length) await redis.del(...keys);
    redis?.disconnect();
    await t?.close();
  }, 60_000);

  it('holds the same back-off, kept in Redis and not in the database', async () => {
    const phone = restPhone(t);
    const number = randomMobile();
    myKeys.push(number);
    const { userId } = await createHuman(t, { orgId });
    await phone.set(userId, number);
    await phone.resend(userId);
    await phone.resend(userId);
    const key = `pv:backoff:sms:backoff:${number}:${userId}`;
    expect(await redis.hget(key, 's')).toBe('3');
    const refused = await phone.resend(userId);
    if (refused.ok) throw new Error('the 4th send was not refused');
    expectWait(refused.seconds, 60);
    t.clock.advance(refused.seconds * SECOND);
    expect(await phone.resend(userId)).toEqual({ ok: true });
    const second = await phone.resend(userId);
    if (second.ok) throw new Error('the 5th send was not refused');
    expectWait(second.seconds, 120);
    expect(await redis.hget(key, 's')).toBe('4');
    expect(await dataSourceOf(t).getRepository(LimitBackoffEntity).count()).toBe(0);
    await phone.verifyWithReturnedCode(userId);
    expect(await redis.exists(key)).toBe(0);
  });

  it('runs the whole scenario over gRPC', async () => {
    const phone = grpcPhone(t);
    try {
      myKeys.push(await backoffScenario(t, phone, orgId));
    } finally {
      phone.close();
    }
  });
});

describe('progressive back-off per number, Redis stopped (a redis-server of its own)', () => {
  let redis: OwnRedis | undefined;
  let t: TestApp | undefined;

  beforeAll(async () => {
    redis = await OwnRedis.start();
    t = await startApp('sqlite', { ...BACKOFF_ENV, REDIS_URL: redis.url, REDIS_TIMEOUT: '1s' });
  }, 60_000);
  afterAll(async () => {
    await t?.close();
    await redis?.stop();
  }, 60_000);

  it('answers a send and VerifyPhone 503 while Redis is away, and commits nothing', async () => {
    const app = t!;
    const post = (path: string, body: object) => app.http().post(path).set(bearer(app.adminToken)).send(body);
    const number = randomMobile();
    const { userId } = await createHuman(app);
    await post(`/v2/users/${userId}/phone`, { phone: number, sendCode: {} }).expect(200);
    await post(`/v2/users/${userId}/phone/resend`, { sendCode: {} }).expect(200);
    await post(`/v2/users/${userId}/phone/resend`, { sendCode: {} }).expect(200);

    await redis!.stop();
    const refused = await post(`/v2/users/${userId}/phone/resend`, { sendCode: {} });
    expect([refused.status, refused.body.code]).toEqual([503, 14]);
    expect(await outboxCount(app, userId)).toBe(3);

    // nor can VerifyPhone check (its limits are in Redis too), so nothing is committed
    const returned = await post(`/v2/users/${userId}/phone/resend`, { returnCode: {} }).expect(200);
    const verify = await post(`/v2/users/${userId}/phone/verify`, {
      verificationCode: returned.body.verificationCode,
    });
    expect([verify.status, verify.body.code]).toEqual([503, 14]);
    expect((await app.http().get(`/v2/users/${userId}`).set(bearer(app.adminToken))).body.user.human.phone).toEqual({
      phone: number,
    });
    // once Redis is back, the record written before the outage is gone with it (no persistence
    // here) and sends go again: the app recovered
    await redis!.resume();
    await until(
      'Redis to be back',
      async () => (await post(`/v2/users/${userId}/phone/resend`, { sendCode: {} })).status === 200 || undefined,
      30_000,
    );
  });
});
