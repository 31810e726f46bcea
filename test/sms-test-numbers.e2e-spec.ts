import { randomBytes } from 'node:crypto';
import { ConfigError } from '../src/common/config/config-error';
import { eventsOf, eventTypesOf } from './support/events';
import { createHuman, createOrg, randomMobile } from './support/factories';
import { FakeHttpServer } from './support/fake-http';
import { until } from './support/wait';
import { outboxIdle, phoneApi } from './support/phone-api';
import { scrape, valueOf } from './support/prometheus';
import { DATABASES, Db, freePort, startApp, TestApp } from './support/test-app';
import { outboxCount } from './support/outbox';

jest.setTimeout(60_000);

const TEST_NUMBER = '+41790000001';
/** a number of the `+41790001*` pattern */
const IN_PATTERN = '+41790001234';
const TEST_NUMBERS = `${TEST_NUMBER}=123456; +41790001*=654321`;

/** Every send limit on, tight, and a real provider (the webhook, to a local fake) behind them. */
function limitedEnv(webhookUrl: string): Record<string, string> {
  return {
    SMS_PROVIDER: 'webhook',
    SMS_WEBHOOK_URL: webhookUrl,
    SMS_POLL_INTERVAL: '50ms',
    SMS_RESEND_COOLDOWN: '60s',
    SMS_MAX_PER_USER_PER_HOUR: '2',
    SMS_MAX_PER_NUMBER_PER_DAY: '2',
    SMS_BACKOFF_BASE: '60s',
    SMS_BACKOFF_FREE_SENDS: '1',
    SMS_TEST_NUMBERS: TEST_NUMBERS,
  };
}

describe.each(DATABASES)('test numbers (SMS_TEST_NUMBERS, %s)', (db: Db) => {
  const webhook = new FakeHttpServer();
  let t: TestApp;
  let orgId: string;
  let api: ReturnType<typeof phoneApi>;

  beforeAll(async () => {
    await webhook.start();
    t = await startApp(db, { ...limitedEnv(`${webhook.url}/sms`), METRICS_PORT: String(await freePort()) });
    api = phoneApi(t);
    orgId = await createOrg(t);
  }, 60_000);
  afterAll(async () => {
    await t?.close();
    await webhook.close();
  }, 60_000);

  it('an ordinary number goes to the provider and is limited (the fake and the limits are live)', async () => {
    const { userId } = await createHuman(t, { orgId });
    await api.set(userId, { phone: randomMobile(), sendCode: {} }).expect(200);
    await until('the webhook to be called', () => webhook.requests.find((r) => r.json.userId === userId));
    expect((await api.resend(userId, { sendCode: {} })).status).toBe(429);
    expect(await outboxCount(t, userId)).toBe(1);
  });

  it('is never sent: no outbox row, no provider call, however often; the fixed code verifies', async () => {
    const { userId } = await createHuman(t, { orgId });
    const before = webhook.requests.length;
    const metricsBefore = await scrape(t);
    await api.set(userId, { phone: TEST_NUMBER, sendCode: {} }).expect(200);
    // far beyond the cooldown, the hourly and daily counts and the back-off, all at once
    for (let i = 0; i < 12; i++) {
      const res = await api.resend(userId, { sendCode: {} });
      expect(res.status).toBe(200);
      expect(res.body.verificationCode).toBeUndefined();
    }
    await outboxIdle(t);
    expect(await outboxCount(t, userId)).toBe(0);
    expect(webhook.requests.length).toBe(before);
    const metricsAfter = await scrape(t);
    const grown = (name: string, labels: Record<string, string> = {}) =>
      valueOf(metricsAfter, name, labels) - valueOf(metricsBefore, name, labels);
    expect(grown('pv_sms_queued_total')).toBe(0);
    expect(grown('pv_phone_codes_issued_total', { channel: 'test_number' })).toBe(13);
    expect(grown('pv_phone_codes_issued_total', { channel: 'sms' })).toBe(0);

    await api.verify(userId, '123456').expect(200);
    expect((await api.get(userId).expect(200)).body.user.human.phone).toEqual({
      phone: TEST_NUMBER,
      isVerified: true,
    });
    const types = await eventTypesOf(t, userId, 'user.human.phone');
    expect(types.filter((type) => type === 'user.human.phone.code.test_number')).toHaveLength(13);
    expect(types.slice(0, 3)).toEqual([
      'user.human.phone.changed',
      'user.human.phone.code.added',
      'user.human.phone.code.test_number',
    ]);
    expect(types.at(-1)).toBe('user.human.phone.verified');
    expect(types).not.toContain('user.human.phone.code.sent');
    const testEvent = (await eventsOf(t, userId)).find((e) => e.type === 'user.human.phone.code.test_number');
    expect(testEvent?.payload).toEqual({ delivery: 'send_code' });
  });

  it('shares a number between users without any per-number limit, through a * pattern', async () => {
    for (let i = 0; i < 4; i++) {
      const { userId } = await createHuman(t, { orgId });
      await api.set(userId, { phone: IN_PATTERN, sendCode: {} }).expect(200);
      await api.verify(userId, '654321').expect(200);
      expect(await outboxCount(t, userId)).toBe(0);
    }
  });

  it('keeps the attempt limit: wrong guesses use up the code, as for any code', async () => {
    const { userId } = await createHuman(t, { orgId });
    await api.set(userId, { phone: TEST_NUMBER, sendCode: {} }).expect(200);
    for (let i = 0; i < 5; i++) await api.verify(userId, '000000').expect(400);
    expect((await api.verify(userId, '123456').expect(429)).body.details[0].id).toBe('PHONE-attempts');
    // a new code (the fixed one again) verifies
    await api.resend(userId, { sendCode: {} }).expect(200);
    await api.verify(userId, '123456').expect(200);
  });

  it('returns the fixed code for returnCode, and appends the event', async () => {
    const { userId } = await createHuman(t, { orgId });
    const res = await api.set(userId, { phone: TEST_NUMBER, returnCode: {} }).expect(200);
    expect(res.body.verificationCode).toBe('123456');
    const testEvent = (await eventsOf(t, userId)).find((e) => e.type === 'user.human.phone.code.test_number');
    expect(testEvent?.payload).toEqual({ delivery: 'return_code' });
  });

  it('AddHumanUser with sendCode to a test number queues nothing either', async () => {
    const { userId } = await createHuman(t, { orgId, phone: TEST_NUMBER, phoneMode: 'sendCode' });
    expect(await outboxCount(t, userId)).toBe(0);
    await api.verify(userId, '123456').expect(200);
  });
});

describe('test numbers in production', () => {
  const production = {
    NODE_ENV: 'production',
    CODE_HMAC_KEY: randomBytes(32).toString('base64'),
    SMS_PROVIDER: 'none',
    SMS_TEST_NUMBERS: TEST_NUMBERS,
  };

  it('are refused at start-up, naming SMS_TEST_NUMBERS and the setting that allows them', async () => {
    const error = await startApp('sqlite', production).then(
      (app) => app.close().then(() => undefined),
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).settings).toEqual(['SMS_TEST_NUMBERS']);
    expect((error as ConfigError).problems[0]).toContain('SMS_TEST_NUMBERS_IN_PRODUCTION=true');
  });

  it('work with SMS_TEST_NUMBERS_IN_PRODUCTION=true', async () => {
    const t = await startApp('sqlite', { ...production, SMS_TEST_NUMBERS_IN_PRODUCTION: 'true' });
    try {
      const { userId } = await createHuman(t, { phone: TEST_NUMBER, phoneMode: 'sendCode' });
      await phoneApi(t).verify(userId, '123456').expect(200);
    } finally {
      await t.close();
    }
  });
});
