import { Client } from 'pg';
import type { Response } from 'supertest';
import { createHuman } from './support/factories';
import { until } from './support/wait';
import { appOnOwnPostgres, OwnPostgres, OwnRedis } from './support/own-servers';
import { eventsOf } from './support/events';
import { phoneApi, phoneCodeRow, startPhoneApp, wrongCodeFor } from './support/phone-api';
import { bearer, dataSourceOf, TestApp } from './support/test-app';
import { CallResult, TransportName, TRANSPORTS, transportCaller } from './support/transports';
import { SmsOutboxWorker } from '../src/phone/outbox/sms-outbox.worker';
import { webhookReceiptKey, webhookReceiptSignature } from '../src/phone/sms/webhook-receipts';
import { SIGNATURE_HEADER } from '../src/phone/sms/webhook-sms-sender';
import { UserEntity } from '../src/users/entities/user.entity';
import { ERROR_DETAIL, RETRY_INFO } from './support/wire';

/**
 * Dependencies of the test's own are stopped and frozen under the real app: every call they
 * take part in is answered 14 UNAVAILABLE / 503 with Retry-After within the deadline, nothing
 * is half-committed, the outage is one log line, and the app serves again once they are back.
 */

const UNAVAILABLE_TEXT = 'Service temporarily unavailable';
const UNAVAILABLE_ID = 'API-unavail';
/** A 1 s deadline on a busy two-core machine: well below this, and well below the freeze. */
const BOUND_MS = 5_000;
const FREEZE_MS = BOUND_MS + 3_000;

function expectUnavailable(res: Response): void {
  expect({ status: res.status, code: res.body.code, message: res.body.message }).toEqual({
    status: 503,
    code: 14,
    message: `${UNAVAILABLE_TEXT} (${UNAVAILABLE_ID})`,
  });
  expect(res.body.details).toEqual([
    { '@type': ERROR_DETAIL, id: UNAVAILABLE_ID, message: UNAVAILABLE_TEXT },
    { '@type': RETRY_INFO, retryDelay: '1s' },
  ]);
  expect(res.headers['retry-after']).toBe('1');
}

/** The same on gRPC and gRPC-web: the status and RetryInfo in grpc-status-details-bin. */
function expectUnavailableCall(result: CallResult): void {
  const { httpStatus, ...rest } = result as CallResult & { httpStatus?: number };
  if (httpStatus !== undefined) expect(httpStatus).toBe(503);
  expect(rest).toEqual({
    ok: false,
    code: 14,
    message: `${UNAVAILABLE_TEXT} (${UNAVAILABLE_ID})`,
    details: [
      { '@type': ERROR_DETAIL, id: UNAVAILABLE_ID, message: UNAVAILABLE_TEXT },
      { '@type': RETRY_INFO, retryDelay: '1s' },
    ],
  });
}

async function timed<T>(call: () => Promise<T>): Promise<{ value: T; ms: number }> {
  const start = Date.now();
  const value = await call();
  return { value, ms: Date.now() - start };
}

/** Log lines with this message, from line `from` on. */
const linesWith = (t: TestApp, msg: string, from = 0) =>
  t.logs.slice(from).filter((line) => line.includes(`"msg":"${msg}"`));

async function isVerified(t: TestApp, userId: string): Promise<boolean> {
  const user = await dataSourceOf(t).getRepository(UserEntity).findOneByOrFail({ id: userId });
  return user.phoneVerified;
}

describe('Redis stopped and frozen (a redis-server of its own)', () => {
  let redis: OwnRedis | undefined;
  /** throttling off: only the limits of the phone methods are in Redis */
  let limits: TestApp | undefined;
  /** throttling on: every authenticated call is counted in Redis, GetUserByID too */
  let throttled: TestApp | undefined;

  beforeAll(async () => {
    redis = await OwnRedis.start();
    const env = { REDIS_URL: redis.url, REDIS_TIMEOUT: '1s' };
    limits = await startPhoneApp('sqlite', env);
    throttled = await startPhoneApp('sqlite', { ...env, THROTTLE_LIMIT: '100000' });
  }, 60_000);

  afterAll(async () => {
    redis?.thaw();
    await limits?.close();
    await throttled?.close();
    await redis?.stop();
  }, 60_000);

  /** Polls a check (which needs Redis: the daily failure limit) of a user of its own until it is answered again. */
  async function redisBack(app: TestApp, probeUserId: string): Promise<void> {
    await until(
      'Redis to come back',
      async () => {
        const res = await phoneApi(app).verify(probeUserId, '000000');
        return res.status !== 503;
      },
      30_000,
      200,
    );
  }

  it('answers VerifyPhone 503 while Redis is stopped, for a wrong and for the right code, and commits nothing', async () => {
    const app = limits!;
    const api = phoneApi(app);
    const { userId, phoneCode } = await createHuman(app, { phone: '+41791234567' });
    const { userId: probe } = await createHuman(app, { phone: '+41791234571' });
    const eventsBefore = await eventsOf(app, userId);
    const from = app.logs.length;

    await redis!.stop();
    const wrong = await api.verify(userId, wrongCodeFor(phoneCode!));
    expectUnavailable(wrong);
    const right = await api.verify(userId, phoneCode);
    expectUnavailable(right);
    // a send cannot be counted either: refused, nothing queued
    expectUnavailable(await api.resend(userId, { sendCode: {} }));
    expect((await api.get(userId).expect(200)).body.user.human.phone.isVerified).toBeFalsy();
    expect(await isVerified(app, userId)).toBe(false);
    expect(await eventsOf(app, userId)).toEqual(eventsBefore);
    expect((await phoneCodeRow(app, userId))?.attempts).toBe(0);
    // one line for the outage, not one per call
    expect(linesWith(app, 'redis unavailable: answering 503 until it recovers', from)).toHaveLength(1);
    expect(linesWith(app, 'unexpected error', from)).toEqual([]);

    await redis!.resume();
    await redisBack(app, probe);
    expect(linesWith(app, 'redis recovered', from)).toHaveLength(1);
    // the 503s used no attempt: the first wrong guess after the outage leaves 4 of 5
    const afterWrong = await api.verify(userId, wrongCodeFor(phoneCode!));
    expect([afterWrong.status, afterWrong.body.details[0].id]).toEqual([400, 'COMMAND-eis9R']);
    expect(afterWrong.body.message).toContain('4 attempts left');
    await api.verify(userId, phoneCode).expect(200);
    expect(await isVerified(app, userId)).toBe(true);
  }, 60_000);

  it('answers within the deadline while Redis is frozen, GetUserByID too, on every transport', async () => {
    const app = throttled!;
    await until(
      'the throttle to get Redis back',
      async () => (await phoneApi(app).get('0')).status === 404,
      30_000,
      200,
    );
    const { userId, phoneCode } = await createHuman(app, { phone: '+41791234568' });
    const other = await createHuman(limits!, { phone: '+41791234572' });
    const { userId: probe } = await createHuman(limits!, { phone: '+41791234573' });
    const callers = Object.fromEntries(TRANSPORTS.map((name) => [name, transportCaller(app, name)])) as Record<
      TransportName,
      ReturnType<typeof transportCaller>
    >;
    const frozenAt = Date.now();
    redis!.freeze();
    try {
      // at once, so that together they take one deadline, not one each
      const [get, grpc, grpcWeb, verify] = await Promise.all([
        timed(() => phoneApi(app).get(userId)),
        timed(() => callers.grpc.call('UserService', 'GetUserByID', { userId }, app.adminToken)),
        timed(() => callers['grpc-web'].call('UserService', 'GetUserByID', { userId }, app.adminToken)),
        // the limit store's own deadline, without the throttle in front of it
        timed(() => phoneApi(limits!).verify(other.userId, other.phoneCode)),
      ]);
      expectUnavailable(get.value);
      expectUnavailableCall(grpc.value);
      expectUnavailableCall(grpcWeb.value);
      expectUnavailable(verify.value);
      for (const call of [get, grpc, grpcWeb, verify]) expect(call.ms).toBeLessThan(BOUND_MS);
      // every answer came while Redis was still frozen: none of them waited for the freeze to end
      expect(Date.now() - frozenAt).toBeLessThan(FREEZE_MS);
    } finally {
      redis!.thaw();
      for (const caller of Object.values(callers)) caller.close();
    }
    await redisBack(limits!, probe);
    await until(
      'the throttle to get Redis back',
      async () => (await phoneApi(app).get(userId)).status === 200,
      30_000,
      200,
    );
    expect(await isVerified(limits!, other.userId)).toBe(false);
    await phoneApi(limits!).verify(other.userId, other.phoneCode).expect(200);
    await phoneApi(app).verify(userId, phoneCode).expect(200);
  }, 60_000);
});

describe('PostgreSQL stopped and slow (a cluster of its own)', () => {
  const schema = 'pv';
  let own: Awaited<ReturnType<typeof appOnOwnPostgres>> | undefined;
  let pg: OwnPostgres | undefined;
  let t: TestApp | undefined;

  // delivery receipts on (the webhook's, signed): a receipt that cannot be recorded must not be acknowledged
  const receiptKey = 'k'.repeat(40);
  const receipts = {
    SMS_PROVIDER: 'webhook',
    SMS_WEBHOOK_URL: 'http://127.0.0.1:9/sms',
    SMS_WEBHOOK_SIGNING_KEY: receiptKey,
    SMS_RECEIPTS_BASE_URL: 'https://verify.example.com',
  };
  const signedReceipt = (app: TestApp) => {
    const body = JSON.stringify({ id: '312345678901234567', status: 'delivered' });
    const at = Math.floor(app.clock.now().getTime() / 1000);
    return app
      .http()
      .post('/v2/sms/receipts/webhook')
      .set('Content-Type', 'application/json')
      .set(SIGNATURE_HEADER, `t=${at},v1=${webhookReceiptSignature(webhookReceiptKey(receiptKey), at, body)}`)
      .send(body);
  };

  beforeAll(async () => {
    own = await appOnOwnPostgres((db, env, shared) => startPhoneApp(db, { ...env, ...receipts }, shared), schema);
    ({ pg, app: t } = own);
  }, 120_000);

  afterAll(async () => {
    await own?.close();
  }, 60_000);

  it('answers 503 within the statement timeout when a statement waits for a lock held elsewhere', async () => {
    const app = t!;
    const { userId } = await createHuman(app, { phone: '+41791234569' });
    const holder = new Client({ connectionString: pg!.url });
    await holder.connect();
    let release: NodeJS.Timeout | undefined;
    try {
      await holder.query('BEGIN');
      await holder.query(`SELECT id FROM "${schema}".users WHERE id = $1 FOR UPDATE`, [userId]);
      // should the statement not time out, the lock goes after the freeze-like wait and the call succeeds late
      release = setTimeout(() => void holder.query('ROLLBACK').catch(() => undefined), FREEZE_MS);
      const removed = await timed(() => phoneApi(app).remove(userId));
      expectUnavailable(removed.value);
      expect(removed.ms).toBeLessThan(BOUND_MS);
    } finally {
      clearTimeout(release);
      await holder.query('ROLLBACK').catch(() => undefined);
      await holder.end();
    }
    // the lock is gone: the same call goes through, and the connection that timed out serves again
    await phoneApi(app).remove(userId).expect(200);
  }, 60_000);

  it('answers 503 on every transport while PostgreSQL is stopped, logs the outage once, and serves again after', async () => {
    const app = t!;
    const { userId } = await createHuman(app, { phone: '+41791234570' });
    const callers = TRANSPORTS.map((name) => transportCaller(app, name));
    const from = app.logs.length;
    try {
      pg!.stop();
      for (let round = 0; round < 3; round++) {
        expectUnavailable(await phoneApi(app).get(userId));
        // a 200 would tell the provider to stop retrying a receipt that was never stored
        expectUnavailable(await signedReceipt(app));
        expectUnavailable(await app.http().post('/v2/organizations').set(bearer(app.adminToken)).send({ name: 'x' }));
        for (const caller of callers) {
          expectUnavailableCall(await caller.call('UserService', 'GetUserByID', { userId }, app.adminToken));
        }
      }
      // the outbox worker's polls meet the same outage: counted in it, no stack per poll
      const worker = app.app.get(SmsOutboxWorker);
      for (let poll = 0; poll < 3; poll++) {
        worker.kick();
        await worker.idle();
      }
      expect(linesWith(app, 'database unavailable: answering 503 until it recovers', from)).toHaveLength(1);
      expect(linesWith(app, 'unexpected error', from)).toEqual([]);
      expect(linesWith(app, 'SMS outbox drain failed', from)).toEqual([]);

      await pg!.resume();
      await until('the pool to recover', async () => (await phoneApi(app).get(userId)).status === 200, 30_000, 200);
      await signedReceipt(app).expect(200);
      expect(linesWith(app, 'database recovered', from)).toHaveLength(1);
      for (const caller of callers) {
        const result = await caller.call('UserService', 'GetUserByID', { userId }, app.adminToken);
        expect(result.ok).toBe(true);
      }
    } finally {
      for (const caller of callers) caller.close();
    }
  }, 120_000);
});
