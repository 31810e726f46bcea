import { randomInt } from 'node:crypto';
import { Metrics } from '../src/common/metrics/metrics';
import { SmsOutboxEntity } from '../src/phone/outbox/sms-outbox.entity';
import { FakeHttpServer, until } from './support/fake-http';
import { createHuman, randomMobile } from './support/factories';
import { bearer, DATABASES, dataSourceOf, startApp, TestApp } from './support/test-app';

jest.setTimeout(30_000);

const VONAGE_KEY = 'a1b2c3d4';
const VONAGE_SECRET = 'Zx9Yw8Vu7Ts6Rq5P';

/** A valid New York number nobody else in this run uses (E.164). */
const randomUsNumber = () => `+1212736${String(randomInt(10_000)).padStart(4, '0')}`;

async function settledRow(t: TestApp, userId: string): Promise<SmsOutboxEntity> {
  return until(`the SMS of ${userId} to be delivered`, async () => {
    const row = await dataSourceOf(t).getRepository(SmsOutboxEntity).findOne({ where: { userId } });
    return row?.status === 'delivered' ? row : undefined;
  });
}

/** pv_sms_sends_total's samples as { "provider/route/result": value }. */
async function sends(t: TestApp): Promise<Record<string, number>> {
  const metric = t.app.get(Metrics).registry.getSingleMetric('pv_sms_sends_total');
  if (!metric) throw new Error('no pv_sms_sends_total');
  const { values } = (await metric.get()) as { values: Array<{ value: number; labels: Record<string, string> }> };
  return Object.fromEntries(
    values.map((v) => [`${v.labels.provider}/${v.labels.route}/${v.labels.result}`, v.value] as const),
  );
}

/**
 * The real app with SMS_ROUTES=CH=vonage;*=webhook: a local fake of Vonage's SMS API (POST
 * /sms/json, api_key and api_secret, answer with messages[0].status "0") and a local webhook.
 */
describe.each(DATABASES)('SMS routed by country (%s)', (db) => {
  const vonage = new FakeHttpServer();
  const webhook = new FakeHttpServer();
  let t: TestApp;

  beforeAll(async () => {
    await vonage.start();
    await webhook.start();
    vonage.handler = (r) => {
      if (
        r.path !== '/sms/json' ||
        r.form.get('api_key') !== VONAGE_KEY ||
        r.form.get('api_secret') !== VONAGE_SECRET
      ) {
        return { status: 200, body: JSON.stringify({ messages: [{ status: '4', 'error-text': 'Bad Credentials' }] }) };
      }
      return {
        status: 200,
        body: JSON.stringify({
          'message-count': '1',
          messages: [{ to: r.form.get('to'), 'message-id': `0A${randomInt(1e9)}`, status: '0' }],
        }),
      };
    };
    webhook.handler = () => ({ status: 204 });
    t = await startApp(db, {
      SMS_ROUTES: 'CH=vonage;*=webhook',
      SMS_SENDER_IDS: 'CH=MyApp CH;US=MyApp US',
      SMS_RECEIPTS_BASE_URL: 'https://verify.example.com',
      SMS_WEBHOOK_URL: `${webhook.url}/sms`,
      SMS_WEBHOOK_TIMEOUT: '1s',
      VONAGE_BASE_URL: vonage.url,
      VONAGE_API_KEY: VONAGE_KEY,
      VONAGE_API_SECRET: VONAGE_SECRET,
      VONAGE_FROM: 'MyApp',
      VONAGE_TIMEOUT: '1s',
      SMS_POLL_INTERVAL: '50ms',
      PHONE_CODE_ALPHABET: 'alphanumeric',
      PHONE_CODE_LENGTH: '8',
    });
  }, 60_000);
  afterAll(async () => {
    await t?.close();
    await vonage.close();
    await webhook.close();
  }, 60_000);

  it('sends a Swiss number through Vonage and a US number through the webhook; both codes verify', async () => {
    const swiss = randomMobile();
    const american = randomUsNumber();
    const ch = await createHuman(t, { phone: swiss, phoneMode: 'sendCode' });
    const us = await createHuman(t, { phone: american, phoneMode: 'sendCode' });
    const [chRow, usRow] = [await settledRow(t, ch.userId), await settledRow(t, us.userId)];
    expect(chRow.provider).toBe('vonage');
    expect(usRow.provider).toBe('webhook');

    const toVonage = vonage.requests.filter((r) => r.form.get('to') === swiss.slice(1));
    expect(toVonage).toHaveLength(1);
    const form = Object.fromEntries(toVonage[0].form);
    expect(form).toMatchObject({
      from: 'MyApp CH',
      callback: 'https://verify.example.com/v2/sms/receipts/vonage',
      'client-ref': chRow.id,
    });
    // the code's remaining life (PHONE_CODE_TTL 10 min), sent within moments of its issue
    expect(Number(form.ttl)).toBeGreaterThan(590_000);
    expect(Number(form.ttl)).toBeLessThanOrEqual(600_000);
    expect(webhook.requests.some((r) => r.json.to === swiss)).toBe(false);

    const toWebhook = webhook.requests.filter((r) => r.json.to === american);
    expect(toWebhook).toHaveLength(1);
    expect(vonage.requests.some((r) => r.form.get('to') === american.slice(1))).toBe(false);

    const chCode = /^([A-Z0-9]{8}) is your code/.exec(form.text)![1];
    const usCode = toWebhook[0].json.code as string;
    for (const [userId, code] of [
      [ch.userId, chCode],
      [us.userId, usCode],
    ]) {
      await t
        .http()
        .post(`/v2/users/${userId}/phone/verify`)
        .set(bearer(t.adminToken))
        .send({ verificationCode: code })
        .expect(200);
    }

    const counted = await sends(t);
    expect(counted['vonage/CH/accepted']).toBeGreaterThanOrEqual(1);
    expect(counted['webhook/*/accepted']).toBeGreaterThanOrEqual(1);
    expect(counted['vonage/CH/rejected']).toBe(0);
    expect(Object.keys(counted).every((key) => /^(vonage|webhook)\/(CH|\*)\//.test(key))).toBe(true);
  });

  it('counts a Vonage refusal as rejected on route CH and gives the message up', async () => {
    const before = (await sends(t))['vonage/CH/rejected'];
    vonage.handler = () => ({
      status: 200,
      body: JSON.stringify({ 'message-count': '1', messages: [{ status: '7', 'error-text': 'Number barred' }] }),
    });
    const { userId } = await createHuman(t, { phone: randomMobile(), phoneMode: 'sendCode' });
    const row = await until(`the SMS of ${userId} to fail`, async () => {
      const found = await dataSourceOf(t).getRepository(SmsOutboxEntity).findOne({ where: { userId } });
      return found?.status === 'failed' ? found : undefined;
    });
    expect(row.lastError).toContain('vonage: status 7, Number barred');
    expect((await sends(t))['vonage/CH/rejected']).toBe(before + 1);
  });
});
