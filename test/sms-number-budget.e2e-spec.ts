import { Redis } from 'ioredis';
import { Writable } from 'node:stream';
import type { Response } from 'supertest';
import { LimitBackoffEntity } from '../src/common/limits/limit-backoff.entity';
import { clearSmsBackoff } from '../src/phone/admin/sms-backoff-admin';
import { createHuman, createOrg, randomMobile } from './support/factories';
import { phoneApi } from './support/phone-api';
import { scrape, valueOf } from './support/prometheus';
import { DATABASES, dataSourceOf, Db, freePort, startApp, TestApp } from './support/test-app';

jest.setTimeout(60_000);

const SECOND = 1_000;
const HOUR = 3_600_000;
const REDIS_URL = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';

/** The security bar's defaults (the harness turns the limits off): cooldown, caps and back-off. */
const DEFAULTS_ENV = {
  SMS_PROVIDER: 'none',
  SMS_RESEND_COOLDOWN: '60s',
  SMS_MAX_PER_USER_PER_HOUR: '5',
  SMS_MAX_PER_NUMBER_PER_DAY: '10',
  SMS_BACKOFF_BASE: '60s',
  SMS_BACKOFF_FREE_SENDS: '3',
  SMS_BACKOFF_MAX: '1h',
};

/** The limit a 429 names (ErrorInfo.metadata.limit). */
const limitOf = (res: Response) => (res.body.details?.[1]?.metadata?.limit as string | undefined) ?? '';
const retryAfter = (res: Response) => Number(res.headers['retry-after']);

/** The operator's command, run in-process against the app's own database or Redis. */
async function clearBackoff(t: TestApp, number: string): Promise<string[]> {
  const lines: string[] = [];
  const quiet = new Writable({ write: (_chunk, _enc, done) => done() });
  const code = await clearSmsBackoff([number], t.env, (line) => lines.push(line), quiet);
  expect(code).toBe(0);
  return lines;
}

/**
 * Issue 26, finding 3: three sends by one account (SetPhone and two resends, 61 s apart) to a
 * victim's number made the owner's own SetPhone answer 429. The back-off and the daily cap now
 * count per (number, account), the account being the user whose phone is set.
 */
async function scenario(t: TestApp, orgId: string): Promise<string> {
  const api = phoneApi(t);
  const victimNumber = randomMobile();
  const attacker = (await createHuman(t, { orgId })).userId;
  const owner = (await createHuman(t, { orgId })).userId;

  await api.set(attacker, { phone: victimNumber, sendCode: {} }).expect(200);
  t.clock.advance(61 * SECOND);
  await api.resend(attacker, { sendCode: {} }).expect(200);
  t.clock.advance(61 * SECOND);
  await api.resend(attacker, { sendCode: {} }).expect(200);
  // the owner's own SetPhone goes out at once (it answered 429 with Retry-After: 55 before) …
  await api.set(owner, { phone: victimNumber, sendCode: {} }).expect(200);
  // … while the attacker's back-off holds the attacker: its 4th send waits 48–60 s, its 5th 96–120 s
  t.clock.advance(61 * SECOND);
  await api.resend(attacker, { sendCode: {} }).expect(200);
  t.clock.advance(61 * SECOND);
  const waiting = await api.resend(attacker, { sendCode: {} });
  expect([waiting.status, limitOf(waiting)]).toEqual([429, 'sms_backoff']);
  await api.resend(owner, { sendCode: {} }).expect(200);

  // one resend per back-off period until the attacker's daily cap: the owner is never held up
  let attackerSends = 4;
  while (attackerSends < 10) {
    const res = await api.resend(attacker, { sendCode: {} });
    if (res.status === 200) attackerSends++;
    else expect([res.status, limitOf(res)]).toEqual([429, expect.stringMatching(/^sms_(backoff|per_user_per_hour)$/)]);
    t.clock.advance(Math.max(61, res.status === 429 ? retryAfter(res) : 0) * SECOND);
  }
  // past its back-off and hourly limit, the attacker meets its own daily cap for the number
  for (;;) {
    const res = await api.resend(attacker, { sendCode: {} });
    expect(res.status).toBe(429);
    if (limitOf(res) === 'sms_per_number_per_day') break;
    expect(limitOf(res)).toMatch(/^sms_(backoff|per_user_per_hour)$/);
    t.clock.advance(retryAfter(res) * SECOND);
  }
  await api.resend(owner, { sendCode: {} }).expect(200);
  t.clock.advance(61 * SECOND);
  await api.resend(owner, { sendCode: {} }).expect(200);
  t.clock.advance(HOUR);
  return victimNumber;
}

describe.each(DATABASES)('SMS budget per (number, account) (%s)', (db: Db) => {
  let t: TestApp;
  let orgId: string;

  beforeAll(async () => {
    t = await startApp(db, { ...DEFAULTS_ENV, METRICS_PORT: String(await freePort()) });
    orgId = await createOrg(t);
  }, 60_000);
  afterAll(() => t?.close(), 60_000);

  it('one account’s sends to a victim’s number never make the owner’s own SetPhone answer 429', async () => {
    const before = valueOf(await scrape(t), 'pv_sms_shared_number_sends_total');
    await scenario(t, orgId);
    // every send after the first account's first one went to a number another account was sent to
    expect(valueOf(await scrape(t), 'pv_sms_shared_number_sends_total') - before).toBeGreaterThanOrEqual(10);
  });

  it('lets an operator clear a number’s back-off for every account (scripts/clear-sms-backoff.js)', async () => {
    const api = phoneApi(t);
    const number = randomMobile();
    const users = [(await createHuman(t, { orgId })).userId, (await createHuman(t, { orgId })).userId];
    for (const userId of users) await api.set(userId, { phone: number, sendCode: {} }).expect(200);
    for (let i = 0; i < 3; i++) {
      t.clock.advance(61 * SECOND);
      for (const userId of users) await api.resend(userId, { sendCode: {} }).expect(200);
    }
    t.clock.advance(61 * SECOND);
    for (const userId of users) {
      const res = await api.resend(userId, { sendCode: {} });
      expect([res.status, limitOf(res)]).toEqual([429, 'sms_backoff']);
    }
    const rows = dataSourceOf(t).getRepository(LimitBackoffEntity);
    expect(await rows.countBy({ key: `sms:backoff:${number}:${users[0]}` })).toBe(1);

    expect(await clearBackoff(t, number)).toEqual([`${number}: back-off cleared (2 records)`]);
    for (const userId of users) await api.resend(userId, { sendCode: {} }).expect(200);
    // as a person types it
    expect(await clearBackoff(t, `+41 79 ${number.slice(5)}`)).toEqual([`${number}: back-off cleared (2 records)`]);
  });

  it('refuses an unreadable number, and prints how to call it without one', async () => {
    const lines: string[] = [];
    const quiet = new Writable({ write: (_chunk, _enc, done) => done() });
    expect(await clearSmsBackoff(['not a number'], t.env, (line) => lines.push(line), quiet)).toBe(1);
    expect(lines).toEqual([expect.stringMatching(/^not a number: /)]);
    expect(await clearSmsBackoff([], t.env, (line) => lines.push(line))).toBe(2);
  });

  it('holds all accounts together to the number’s ceiling (SMS_NUMBER_CEILING_PER_DAY, 5 × the cap)', async () => {
    const api = phoneApi(t);
    const number = randomMobile();
    const users = await Promise.all(Array.from({ length: 51 }, async () => (await createHuman(t, { orgId })).userId));
    for (const userId of users.slice(0, 50)) await api.set(userId, { phone: number, sendCode: {} }).expect(200);
    const refused = await api.set(users[50], { phone: number, sendCode: {} });
    expect([refused.status, limitOf(refused)]).toEqual([429, 'sms_number_ceiling_per_day']);
    expect(valueOf(await scrape(t), 'pv_limit_refusals_total', { limit: 'sms_number_ceiling_per_day' })).toBe(1);
  });
});

describe('SMS budget per (number, account), in Redis (REDIS_URL)', () => {
  let t: TestApp;
  let redis: Redis;
  let orgId: string;
  const numbers: string[] = [];

  beforeAll(async () => {
    t = await startApp('sqlite', { ...DEFAULTS_ENV, REDIS_URL });
    redis = new Redis(REDIS_URL);
    orgId = await createOrg(t);
  }, 60_000);
  afterAll(async () => {
    if (redis) {
      const keys = (await redis.keys('pv:*')).filter((key) => numbers.some((number) => key.includes(number)));
      if (keys.length) await redis.del(...keys);
      redis.disconnect();
    }
    await t?.close();
  }, 60_000);

  it('runs the issue’s scenario with the counters in Redis, and clears a number there', async () => {
    const number = await scenario(t, orgId);
    numbers.push(number);
    const keys = await redis.keys(`pv:backoff:sms:backoff:${number}:*`);
    expect(keys).toHaveLength(2);
    expect(await dataSourceOf(t).getRepository(LimitBackoffEntity).count()).toBe(0);
    expect(await clearBackoff(t, number)).toEqual([`${number}: back-off cleared (2 records)`]);
    expect(await redis.keys(`pv:backoff:sms:backoff:${number}:*`)).toEqual([]);
  });
});
