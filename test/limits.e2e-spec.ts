import type { ServiceError } from '@grpc/grpc-js';
import { Redis } from 'ioredis';
import { randomInt } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Response } from 'supertest';
import { LimitHitEntity } from '../src/common/limits/limit-hit.entity';
import { SmsOutboxEntity } from '../src/phone/outbox/sms-outbox.entity';
import { PhoneCodeEntity } from '../src/phone/phone-code.entity';
import { createHuman, createOrg, randomMobile } from './support/factories';
import { bearer, createPgSchema, DATABASES, dataSourceOf, dropPgSchema, startApp, TestApp } from './support/test-app';
import { closeGrpcClients, grpcClients, GrpcClients, grpcErrorResult, grpcUnary } from './support/transports';
import { ERROR_DETAIL, ERROR_INFO, errorBody, RETRY_INFO } from './support/wire';
import { outboxCount } from './support/outbox';
import { wrongCodeFor } from './support/phone-api';

jest.setTimeout(30_000);

const SECOND = 1_000;
const MINUTE = 60_000;
const HOUR = 3_600_000;
const DAY = 86_400_000;
// the redis-server test/support/global-setup.ts started for this run
const REDIS_URL = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';

/** The security bar's limits, set explicitly (the harness switches them off by default). */
const LIMITS_ENV = {
  SMS_PROVIDER: 'none',
  SMS_RESEND_COOLDOWN: '60s',
  SMS_MAX_PER_USER_PER_HOUR: '5',
  SMS_MAX_PER_NUMBER_PER_DAY: '10',
  PHONE_MAX_FAILED_PER_DAY: '15',
  SMS_ALLOWED_COUNTRIES: 'CH',
};

/** A valid Swiss mobile number nobody else in this run uses (E.164). */
/** A request and the service-clock interval it ran in (so a limit's expected wait can be bracketed). */
interface Timed {
  res: Response;
  from: number;
  to: number;
}
async function timed(t: TestApp, request: () => PromiseLike<Response>): Promise<Timed> {
  const from = t.clock.now().getTime();
  const res = await request();
  return { res, from, to: t.clock.now().getTime() };
}

/**
 * A 429 PHONE-ratelimit naming `limit`, whose Retry-After (whole seconds, rounded up) is the time
 * until `counted` (the hit that has to leave the window) is `windowMs` old, seen from `refused`.
 */
function expectRateLimited(refused: Timed, limit: string, counted: Timed, windowMs: number): number {
  const earliest = Math.ceil((counted.from + windowMs - refused.to) / SECOND);
  const latest = Math.ceil((counted.to + windowMs - refused.from) / SECOND);
  expect(refused.res.status).toBe(429);
  const seconds = Number(refused.res.headers['retry-after']);
  expect(refused.res.headers['retry-after']).toMatch(/^\d+$/);
  expect(seconds).toBeGreaterThanOrEqual(earliest);
  expect(seconds).toBeLessThanOrEqual(latest);
  expect(refused.res.body).toEqual({
    code: 8,
    message: 'Try again later (PHONE-ratelimit)',
    details: [
      { '@type': ERROR_DETAIL, id: 'PHONE-ratelimit', message: 'Try again later' },
      {
        '@type': ERROR_INFO,
        reason: 'RATE_LIMITED',
        domain: 'phone-verify',
        metadata: { limit, retryAfterSeconds: String(seconds) },
      },
      { '@type': RETRY_INFO, retryDelay: `${seconds}s` },
    ],
  });
  return seconds;
}

function smsRefused(why: string) {
  return {
    code: 3,
    message: `No SMS can be sent to this number: ${why} (PHONE-n0sms)`,
    details: [
      { '@type': ERROR_DETAIL, id: 'PHONE-n0sms', message: `No SMS can be sent to this number: ${why}` },
      { '@type': ERROR_INFO, reason: 'SMS_REFUSED', domain: 'phone-verify', metadata: { why } },
    ],
  };
}

async function pendingCodeId(t: TestApp, userId: string): Promise<string | undefined> {
  return (await dataSourceOf(t).getRepository(PhoneCodeEntity).findOne({ where: { userId } }))?.id;
}

/** REST calls as the instance admin. */
function api(t: TestApp) {
  const post = (path: string, body: object = {}) => t.http().post(path).set(bearer(t.adminToken)).send(body);
  return {
    setPhone: (userId: string, phone: string, body: object = {}) =>
      post(`/v2/users/${userId}/phone`, { phone, ...body }),
    resend: (userId: string, body: object = {}) => post(`/v2/users/${userId}/phone/resend`, body),
    verify: (userId: string, code: string) => post(`/v2/users/${userId}/phone/verify`, { verificationCode: code }),
    getUser: (userId: string) => t.http().get(`/v2/users/${userId}`).set(bearer(t.adminToken)),
  };
}

describe.each(DATABASES)('SMS and verification limits (%s)', (db) => {
  let t: TestApp;
  let orgId: string;
  let a: ReturnType<typeof api>;

  beforeAll(async () => {
    t = await startApp(db, LIMITS_ENV);
    a = api(t);
    orgId = await createOrg(t);
  }, 60_000);
  afterAll(() => t?.close(), 60_000);

  it('resend cooldown: a second send within 60 s is refused with the seconds left, and queues nothing', async () => {
    const { userId } = await createHuman(t, { orgId });
    const first = await timed(t, () => a.setPhone(userId, randomMobile()));
    expect(first.res.status).toBe(200);
    const codeId = await pendingCodeId(t, userId);

    t.clock.advance(10 * SECOND);
    const refused = await timed(t, () => a.resend(userId));
    expect(expectRateLimited(refused, 'sms_resend_cooldown', first, MINUTE)).toBe(50);
    expect(await outboxCount(t, userId)).toBe(1);
    expect(await pendingCodeId(t, userId)).toBe(codeId);

    t.clock.advance(49 * SECOND);
    const almost = await timed(t, () => a.resend(userId));
    expect(expectRateLimited(almost, 'sms_resend_cooldown', first, MINUTE)).toBe(1);

    t.clock.advance(1 * SECOND);
    await a.resend(userId).expect(200);
    expect(await outboxCount(t, userId)).toBe(2);
    expect(await pendingCodeId(t, userId)).not.toBe(codeId);
  });

  it('at most 5 sends per user per hour; the 6th waits until the oldest send is an hour old', async () => {
    const { userId } = await createHuman(t, { orgId });
    const first = await timed(t, () => a.setPhone(userId, randomMobile()));
    expect(first.res.status).toBe(200);
    for (let i = 2; i <= 5; i++) {
      t.clock.advance(61 * SECOND);
      await a.resend(userId).expect(200);
    }
    t.clock.advance(61 * SECOND);
    const refused = await timed(t, () => a.resend(userId));
    const wait = expectRateLimited(refused, 'sms_per_user_per_hour', first, HOUR);
    expect(wait).toBeGreaterThan(3600 - 5 * 61 - 5);
    // another number does not help: the limit is the user's
    await a.setPhone(userId, randomMobile()).expect(429);
    expect(await outboxCount(t, userId)).toBe(5);

    t.clock.advance(wait * SECOND);
    await a.resend(userId).expect(200);
    expect(await outboxCount(t, userId)).toBe(6);
  });

  it('at most 10 sends per number and user per day; another user of the number keeps a budget of its own', async () => {
    const number = randomMobile();
    const { userId } = await createHuman(t, { orgId });
    const first = await timed(t, () => a.setPhone(userId, number));
    expect(first.res.status).toBe(200);
    for (let i = 2; i <= 10; i++) {
      // five per hour (SMS_MAX_PER_USER_PER_HOUR): the 6th an hour after the 5th
      t.clock.advance(i === 6 ? HOUR : 61 * SECOND);
      await a.resend(userId).expect(200);
    }
    t.clock.advance(HOUR);
    const refused = await timed(t, () => a.resend(userId));
    expect(expectRateLimited(refused, 'sms_per_number_per_day', first, DAY)).toBeGreaterThan(21 * 3600);
    expect(await outboxCount(t, userId)).toBe(10);
    // one user's sends spend no other user's budget for the number (issue 26)
    const other = (await createHuman(t, { orgId })).userId;
    await a.setPhone(other, number).expect(200);
    // other numbers are not affected; a returned code is no SMS and is not limited
    await a.setPhone(userId, randomMobile()).expect(200);
    await a.setPhone(userId, number, { returnCode: {} }).expect(200);

    t.clock.advance(first.to + DAY - t.clock.now().getTime());
    await a.resend(userId).expect(200);
  });

  it('at most 15 failed checks per user in a rolling 24 h, even with the right code; then it lifts', async () => {
    const { userId, phoneCode } = await createHuman(t, { orgId, phone: randomMobile(), phoneMode: 'returnCode' });
    const statuses: Array<[number, string]> = [];
    const firstFailure = await timed(t, () => a.verify(userId, wrongCodeFor(phoneCode!)));
    statuses.push([firstFailure.res.status, firstFailure.res.body.details[0].id]);
    for (let i = 0; i < 9; i++) {
      const res = await a.verify(userId, wrongCodeFor(phoneCode!));
      statuses.push([res.status, res.body.details[0].id]);
    }
    // five wrong guesses kill the code; the five after that count as failures too
    expect(statuses).toEqual([
      ...Array.from({ length: 5 }, () => [400, 'COMMAND-eis9R']),
      ...Array.from({ length: 5 }, () => [429, 'PHONE-attempts']),
    ]);

    t.clock.advance(12 * HOUR);
    const second = await a.resend(userId, { returnCode: {} }).expect(200);
    const code2 = second.body.verificationCode as string;
    for (let i = 0; i < 5; i++) await a.verify(userId, wrongCodeFor(code2)).expect(400);

    const refused = await timed(t, () => a.verify(userId, code2));
    const wait = expectRateLimited(refused, 'failed_checks_per_day', firstFailure, DAY);
    expect(wait).toBeGreaterThan(12 * 3600 - 5);
    // a refused check is not a failure of its own: once the first failure is 24 h old, one more check runs
    t.clock.advance(wait * SECOND);
    const third = await a.resend(userId, { returnCode: {} }).expect(200);
    await a.verify(userId, third.body.verificationCode).expect(200);
  });

  it("holds a user's limits under concurrent requests (the user's row lock serialises them)", async () => {
    const { userId } = await createHuman(t, { orgId });
    await a.setPhone(userId, randomMobile()).expect(200);
    t.clock.advance(61 * SECOND);
    // eight resends at once: one passes the cooldown, seven are refused by it
    const resends = await Promise.all(Array.from({ length: 8 }, () => a.resend(userId)));
    expect(resends.map((r) => r.status).sort()).toEqual([200, 429, 429, 429, 429, 429, 429, 429]);
    expect(await outboxCount(t, userId)).toBe(2);

    // twenty wrong checks at once: exactly 15 are counted as failures, five are refused by the limit
    const checks = await Promise.all(Array.from({ length: 20 }, () => a.verify(userId, 'ZZZZZZ')));
    const refusedByLimit = checks.filter((r) => r.body.details?.[1]?.metadata?.limit === 'failed_checks_per_day');
    expect(refusedByLimit).toHaveLength(5);
    const hits = await dataSourceOf(t)
      .getRepository(LimitHitEntity)
      .count({ where: { key: `verify:failed:${userId}` } });
    expect(hits).toBe(15);
  });

  it('SMS_ALLOWED_COUNTRIES=CH refuses an SMS to a German number, but allows returnCode', async () => {
    const { userId } = await createHuman(t, { orgId });
    const german = '+49 151 23456789';
    expect((await a.setPhone(userId, german).expect(400)).body).toEqual(smsRefused('SMS are not sent to DE'));
    expect((await a.setPhone(userId, german, { sendCode: {} }).expect(400)).body).toEqual(
      smsRefused('SMS are not sent to DE'),
    );
    expect((await a.getUser(userId).expect(200)).body.user.human.phone).toEqual({});
    expect(await outboxCount(t, userId)).toBe(0);
    const returned = await a.setPhone(userId, german, { returnCode: {} }).expect(200);
    expect(returned.body.verificationCode).toMatch(/^\d{6}$/);
    // AddHumanUser applies the same rule
    const created = await t
      .http()
      .post('/v2/users/human')
      .set(bearer(t.adminToken))
      .send({
        organization: { orgId },
        profile: { givenName: 'Max', familyName: 'Muster' },
        email: { email: `max.${randomInt(1e9)}@example.com`, isVerified: true },
        phone: { phone: german, sendCode: {} },
      })
      .expect(400);
    expect(created.body).toEqual(smsRefused('SMS are not sent to DE'));
  });

  it.each([
    ['premium-rate', '+41 900 000 000', '+41900000000'],
    ['shared-cost', '+41 840 123 456', '+41840123456'],
  ])('refuses an SMS to a %s number (%s), but allows returnCode', async (_kind, number, e164) => {
    const { userId } = await createHuman(t, { orgId });
    expect((await a.setPhone(userId, number).expect(400)).body).toEqual(
      smsRefused('premium-rate and shared-cost numbers receive no SMS'),
    );
    expect(await outboxCount(t, userId)).toBe(0);
    await a.setPhone(userId, number, { returnCode: {} }).expect(200);
    expect((await a.getUser(userId).expect(200)).body.user.human.phone).toEqual({ phone: e164 });
    // nor by resending
    expect((await a.resend(userId).expect(400)).body).toEqual(
      smsRefused('premium-rate and shared-cost numbers receive no SMS'),
    );
  });

  it('returnCode and isVerified are neither limited nor counted by the SMS limits', async () => {
    const { userId } = await createHuman(t, { orgId });
    const number = randomMobile();
    for (let i = 0; i < 7; i++) {
      const res = await (
        i === 0 ? a.setPhone(userId, number, { returnCode: {} }) : a.resend(userId, { returnCode: {} })
      ).expect(200);
      expect(res.body.verificationCode).toMatch(/^\d{6}$/);
    }
    await a.setPhone(userId, randomMobile(), { isVerified: true }).expect(200);
    await a.setPhone(userId, number, { isVerified: true }).expect(200);
    await a.setPhone(userId, randomMobile(), { returnCode: {} }).expect(200);
    expect(await outboxCount(t, userId)).toBe(0);
    // none of them counted: five sends in the hour are still there
    const first = await timed(t, () => a.resend(userId));
    expect(first.res.status).toBe(200);
    await a.resend(userId, { returnCode: {} }).expect(200);
    expectRateLimited(await timed(t, () => a.resend(userId)), 'sms_resend_cooldown', first, MINUTE);
    for (let i = 2; i <= 5; i++) {
      t.clock.advance(61 * SECOND);
      await a.resend(userId).expect(200);
    }
    t.clock.advance(61 * SECOND);
    expectRateLimited(await timed(t, () => a.resend(userId)), 'sms_per_user_per_hour', first, HOUR);
  });
});

describe('Redis-backed limits shared by two instances on one PostgreSQL schema', () => {
  let schema: string;
  let dir: string;
  let first: TestApp;
  let second: TestApp;
  let redis: Redis;
  const myKeys = new Set<string>();

  beforeAll(async () => {
    schema = await createPgSchema();
    dir = mkdtempSync(join(tmpdir(), 'pv-redis-'));
    const env = {
      ...LIMITS_ENV,
      REDIS_URL,
      SMS_MAX_PER_USER_PER_HOUR: '4',
      SMS_MAX_PER_NUMBER_PER_DAY: '5',
      SMS_NUMBER_CEILING_PER_DAY: '5',
    };
    first = await startApp('postgres', env, { dir, schema });
    second = await startApp('postgres', env, { dir, schema });
    redis = new Redis(REDIS_URL);
  }, 120_000);
  afterAll(async () => {
    // only what this run created
    if (myKeys.size) await redis.del(...myKeys);
    redis?.disconnect();
    await first?.close();
    await second?.close();
    await dropPgSchema(schema);
    rmSync(dir, { recursive: true, force: true });
  }, 60_000);

  /** Both instances' clocks move together, as real instances' would. */
  const advance = (ms: number) => {
    first.clock.advance(ms);
    second.clock.advance(ms);
  };
  const keysOf = async (id: string) => {
    const keys = (await redis.keys(`pv:limit:*${id}*`)).sort();
    keys.forEach((key) => myKeys.add(key));
    return keys;
  };

  it('holds the per-user limit at exactly 4 while sends alternate between the instances', async () => {
    const orgId = await createOrg(first);
    const { userId } = await createHuman(first, { orgId });
    const [A, B] = [api(first), api(second)];

    const number = randomMobile();
    const sent = await timed(first, () => A.setPhone(userId, number));
    expect(sent.res.status).toBe(200);
    expect(await keysOf(userId)).toEqual([
      `pv:limit:sms:cooldown:${userId}`,
      `pv:limit:sms:number:${number}:${userId}`,
      `pv:limit:sms:user:${userId}`,
    ]);
    // the cooldown is shared too
    expectRateLimited(await timed(second, () => B.resend(userId)), 'sms_resend_cooldown', sent, MINUTE);
    for (const instance of [B, A, B]) {
      advance(61 * SECOND);
      await instance.resend(userId).expect(200);
    }
    advance(61 * SECOND);
    expectRateLimited(await timed(first, () => A.resend(userId)), 'sms_per_user_per_hour', sent, HOUR);
    expectRateLimited(await timed(second, () => B.resend(userId)), 'sms_per_user_per_hour', sent, HOUR);

    // the counters are in Redis, not in the database (the cooldown's last entry has aged out)
    expect(await keysOf(userId)).toEqual([`pv:limit:sms:number:${number}:${userId}`, `pv:limit:sms:user:${userId}`]);
    expect(await redis.zcard(`pv:limit:sms:user:${userId}`)).toBe(4);
    expect(await dataSourceOf(first).getRepository(LimitHitEntity).count()).toBe(0);
    expect(await dataSourceOf(first).getRepository(SmsOutboxEntity).count({ where: { userId } })).toBe(4);

    // failed checks are counted there as well
    await A.verify(userId, 'ABCDEF').expect(400);
    await B.verify(userId, 'ABCDEF').expect(400);
    expect(await redis.zcard(`pv:limit:verify:failed:${userId}`)).toBe(2);
    myKeys.add(`pv:limit:verify:failed:${userId}`);
  });

  it('lets exactly 5 of 8 concurrent sends to one number through (its ceiling), across both instances', async () => {
    const orgId = await createOrg(first);
    const number = randomMobile();
    const users = await Promise.all(
      Array.from({ length: 8 }, async () => (await createHuman(first, { orgId })).userId),
    );
    const results = await Promise.all(users.map((userId, i) => api(i % 2 ? second : first).setPhone(userId, number)));
    const statuses = results.map((res) => res.status).sort();
    expect(statuses).toEqual([200, 200, 200, 200, 200, 429, 429, 429]);
    for (const res of results.filter((r) => r.status === 429)) {
      expect(res.body.details[1].metadata.limit).toBe('sms_number_ceiling_per_day');
    }
    const keys = await keysOf(number);
    expect(keys).toContain(`pv:limit:sms:number:${number}`);
    expect(keys.filter((key) => key.startsWith(`pv:limit:sms:number:${number}:`))).toHaveLength(5);
    expect(await redis.zcard(`pv:limit:sms:number:${number}`)).toBe(5);
    for (const userId of users) await keysOf(userId);
  });
});

describe.each(DATABASES)('per-client throttling (%s)', (db) => {
  const THROTTLE_ENV = { THROTTLE_LIMIT: '5', THROTTLE_WINDOW: '60s' };
  const THROTTLED = errorBody(8, 'API-thr0ttle', 'Too many requests from this client');
  const USER_PATH = '/v2/users/1';

  /** The 6th request within the window: 429 with Retry-After ≈ the rest of the window. */
  function expectThrottled(res: Response, windowStartedAt: number): void {
    expect(res.status).toBe(429);
    expect(res.headers['retry-after']).toMatch(/^\d+$/);
    const seconds = Number(res.headers['retry-after']);
    expect(seconds).toBeGreaterThanOrEqual(Math.ceil((windowStartedAt + MINUTE - Date.now()) / SECOND));
    expect(seconds).toBeLessThanOrEqual(60);
    expect(res.body).toEqual({
      ...THROTTLED,
      details: [...THROTTLED.details, { '@type': RETRY_INFO, retryDelay: `${seconds}s` }],
    });
  }

  describe('behind a trusted proxy (TRUSTED_PROXIES=127.0.0.1)', () => {
    let t: TestApp;
    let grpc: GrpcClients;
    beforeAll(async () => {
      t = await startApp(db, { ...THROTTLE_ENV, TRUSTED_PROXIES: '127.0.0.1' });
      grpc = grpcClients(t);
    }, 60_000);
    afterAll(async () => {
      if (grpc) closeGrpcClients(grpc);
      await t?.close();
    }, 60_000);
    const get = (forwardedFor?: string) => {
      const req = t.http().get(USER_PATH).set(bearer(t.adminToken));
      return forwardedFor ? req.set('X-Forwarded-For', forwardedFor) : req;
    };

    it('gives each forwarded client address its own budget of 5 requests', async () => {
      for (const client of ['10.1.0.1', '10.1.0.2']) {
        const started = Date.now();
        for (let i = 0; i < 5; i++) await get(client).expect(404);
        expectThrottled(await get(client), started);
      }
      // through a chain of trusted proxies, the first untrusted address is the client
      const started = Date.now();
      for (let i = 0; i < 5; i++) await get(i % 2 ? '10.1.0.3' : '10.1.0.3, 127.0.0.1').expect(404);
      expectThrottled(await get('10.1.0.3, 127.0.0.1'), started);
    });

    it('does not throttle /healthz', async () => {
      for (let i = 0; i < 8; i++) await t.http().get('/healthz').set('X-Forwarded-For', '10.1.0.1').expect(200);
    });

    it('applies the same budget to gRPC: the 6th call is RESOURCE_EXHAUSTED, and REST from there is refused too', async () => {
      const callOn = (clients: GrpcClients) =>
        grpcUnary(clients, 'UserService', 'GetUserByID', { userId: '1' }, t.adminToken).then(
          () => undefined,
          (error: ServiceError) => grpcErrorResult(error),
        );
      const call = () => callOn(grpc);
      for (let i = 0; i < 5; i++) expect(await call()).toMatchObject({ ok: false, code: 5 });
      const refused = await call();
      expect(refused).toEqual({
        ok: false,
        code: 8,
        message: 'Too many requests from this client (API-thr0ttle)',
        details: [
          { '@type': ERROR_DETAIL, id: 'API-thr0ttle', message: 'Too many requests from this client' },
          { '@type': RETRY_INFO, retryDelay: expect.stringMatching(/^(59|60)s$/) },
        ],
      });
      // a new connection (another source port) is the same client
      const again = grpcClients(t);
      try {
        expect(await callOn(again)).toMatchObject({ ok: false, code: 8 });
      } finally {
        closeGrpcClients(again);
      }
      // and REST from the same address shares the budget
      await get().expect(429);
    });
  });

  describe('without TRUSTED_PROXIES', () => {
    let t: TestApp;
    beforeAll(async () => {
      t = await startApp(db, THROTTLE_ENV);
    }, 60_000);
    afterAll(() => t?.close(), 60_000);

    it('ignores X-Forwarded-For: six "different" clients share one budget', async () => {
      const started = Date.now();
      for (let i = 0; i < 5; i++) {
        await t.http().get(USER_PATH).set(bearer(t.adminToken)).set('X-Forwarded-For', `10.2.0.${i}`).expect(404);
      }
      const res = await t.http().get(USER_PATH).set(bearer(t.adminToken)).set('X-Forwarded-For', '10.2.0.9');
      expectThrottled(res, started);
    });
  });
});
