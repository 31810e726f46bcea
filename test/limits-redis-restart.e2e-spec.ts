import { Redis } from 'ioredis';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { REDIS } from '../src/common/limits/limits.module';
import { createHuman, randomMobile } from './support/factories';
import { OwnRedis } from './support/own-servers';
import { expectError, phoneApi } from './support/phone-api';
import { startApp, TestApp } from './support/test-app';
import { until } from './support/wait';

const SECOND = 1_000;

/**
 * With REDIS_URL the limit counters live in Redis; one restarted without persistence comes back
 * empty. What the database keeps of a code must hold the per-code limits regardless.
 */
describe('Limits when Redis restarts empty', () => {
  let redis: OwnRedis | undefined;
  let probe: Redis | undefined;
  let t: TestApp | undefined;

  /** Redis stopped and started again, empty, and the app connected to it again. */
  const restartRedisEmpty = async () => {
    expect((await probe!.keys('pv:limit:*')).length).toBeGreaterThan(0);
    const appRedis = t!.app.get<Redis>(REDIS);
    await redis!.stop();
    // the app's client must have seen the connection go, or 'ready' below is the old connection's
    await until('the app to lose Redis', () => appRedis.status !== 'ready', 30_000);
    await redis!.resume();
    await until('Redis to answer', async () => (await probe!.ping().catch(() => '')) === 'PONG', 30_000);
    expect(await probe!.dbsize()).toBe(0);
    await until('the app to get Redis back', () => appRedis.status === 'ready', 30_000);
  };

  beforeAll(async () => {
    redis = await OwnRedis.start();
    probe = new Redis(redis.url, { lazyConnect: true, maxRetriesPerRequest: 1 });
    await probe.connect();
    t = await startApp('sqlite', {
      REDIS_URL: redis.url,
      SMS_RESEND_COOLDOWN: '60s',
      PHONE_CODE_MAX_ATTEMPTS: '5',
      PHONE_MAX_FAILED_PER_DAY: '100',
    });
  }, 60_000);

  afterAll(async () => {
    await t?.close();
    probe?.disconnect();
    await redis?.stop();
  }, 60_000);

  it('kills a code after PHONE_CODE_MAX_ATTEMPTS wrong guesses in total, also across the restart', async () => {
    const api = phoneApi(t!);
    const { userId, phoneCode } = await createHuman(t!, { phone: randomMobile(), phoneMode: 'returnCode' });
    const wrong = phoneCode === '000000' ? '111111' : '000000';
    for (let i = 0; i < 3; i++) expect((await api.verify(userId, wrong)).status).toBe(400);
    await restartRedisEmpty();
    for (let i = 0; i < 2; i++) expect((await api.verify(userId, wrong)).status).toBe(400);
    // five wrong guesses: even the right code no longer verifies
    expectError(await api.verify(userId, phoneCode), 429, 8, 'PHONE-attempts', 'Too many attempts, request a new code');
    expect((await api.get(userId)).body.user.human.phone).toEqual({ phone: expect.any(String) });
  }, 60_000);

  it('refuses a resend inside the cooldown after Redis lost its counters, and allows it once the cooldown is over', async () => {
    const api = phoneApi(t!);
    const { userId } = await createHuman(t!, { phone: randomMobile(), phoneMode: 'sendCode' });
    expectError(await api.resend(userId, { sendCode: {} }), 429, 8, 'PHONE-ratelimit', 'Try again later');

    await restartRedisEmpty();
    const refused = await api.resend(userId, { sendCode: {} });
    expectError(refused, 429, 8, 'PHONE-ratelimit', 'Try again later');
    expect(Number(refused.headers['retry-after'])).toBeGreaterThan(0);
    expect(Number(refused.headers['retry-after'])).toBeLessThanOrEqual(60);
    expect(refused.body.details[1].metadata.limit).toBe('sms_resend_cooldown');

    t!.clock.advance(61 * SECOND);
    expect((await api.resend(userId, { sendCode: {} })).status).toBe(200);
    // the cooldown starts again from that send
    expectError(await api.resend(userId, { sendCode: {} }), 429, 8, 'PHONE-ratelimit', 'Try again later');
  }, 60_000);

  it('lets a code that was returned, not sent, be followed by an SMS at once (the cooldown is between two SMS)', async () => {
    const api = phoneApi(t!);
    const { userId } = await createHuman(t!, { phone: randomMobile(), phoneMode: 'returnCode' });
    expect((await api.resend(userId, { sendCode: {} })).status).toBe(200);
    expectError(await api.resend(userId, { sendCode: {} }), 429, 8, 'PHONE-ratelimit', 'Try again later');
  }, 60_000);
});

describe('Limits on a Redis with AOF persistence (as docs/operations.md asks)', () => {
  let dir: string;
  let redis: OwnRedis | undefined;
  let t: TestApp | undefined;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'pv-aof-'));
    redis = await OwnRedis.start(['--appendonly', 'yes', '--appendfsync', 'everysec', '--dir', dir]);
    t = await startApp('sqlite', { REDIS_URL: redis.url, PHONE_MAX_FAILED_PER_DAY: '3' });
  }, 60_000);

  afterAll(async () => {
    await t?.close();
    await redis?.stop();
    rmSync(dir, { recursive: true, force: true });
  }, 60_000);

  it('keeps the failed checks per day across a restart of Redis', async () => {
    const api = phoneApi(t!);
    const { userId, phoneCode } = await createHuman(t!, { phone: randomMobile(), phoneMode: 'returnCode' });
    const wrong = phoneCode === '000000' ? '111111' : '000000';
    for (let i = 0; i < 3; i++) expect((await api.verify(userId, wrong)).status).toBe(400);
    const limited = await api.verify(userId, phoneCode);
    expectError(limited, 429, 8, 'PHONE-ratelimit', 'Try again later');
    expect(limited.body.details[1].metadata.limit).toBe('failed_checks_per_day');

    const appRedis = t!.app.get<Redis>(REDIS);
    await redis!.stop();
    await until('the app to lose Redis', () => appRedis.status !== 'ready', 30_000);
    await redis!.resume();
    await until('the app to get Redis back', () => appRedis.status === 'ready', 30_000);
    expectError(await api.verify(userId, phoneCode), 429, 8, 'PHONE-ratelimit', 'Try again later');
  }, 60_000);
});
