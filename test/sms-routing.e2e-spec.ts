import { randomInt } from 'node:crypto';
import { Metrics } from '../src/common/metrics/metrics';
import { SmsOutboxEntity } from '../src/phone/outbox/sms-outbox.entity';
import { FakeHttpServer } from './support/fake-http';
import { until } from './support/wait';
import { createHuman, randomMobile } from './support/factories';
import { bearer, DATABASES, dataSourceOf, startApp, TestApp } from './support/test-app';

jest.setTimeout(30_000);

const VONAGE_KEY = 'a1b2c3d4';
const VONAGE_SECRET = 'Zx9Yw8Vu7Ts6Rq5P';

/** A valid New York number nobody else in this run uses (E.164). */
const randomUsNumber = () => `+1212736${String(randomInt(10_000)).padStart(4, '0')}`;
/** A valid German mobile number nobody else in this run uses (E.164). */
const randomGermanNumber = () => `+49151${String(randomInt(100_000_000)).padStart(8, '0')}`;

const publishAnswer = (id: string) =>
  '<PublishResponse xmlns="http://sns.amazonaws.com/doc/2010-03-31/"><PublishResult>' +
  `<MessageId>${id}</MessageId></PublishResult><ResponseMetadata><RequestId>r-${id}</RequestId>` +
  '</ResponseMetadata></PublishResponse>';

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
 * The real app with SMS_ROUTES=CH=vonage;US=sns;*=webhook: a local fake of Vonage's SMS API (POST
 * /sms/json, api_key and api_secret, answer with messages[0].status "0"), one of SNS's Query API
 * (a SigV4-signed form POST with Action=Publish, answered with a PublishResponse) and a local webhook.
 */
describe.each(DATABASES)('SMS routed by country (%s)', (db) => {
  const vonage = new FakeHttpServer();
  const webhook = new FakeHttpServer();
  const sns = new FakeHttpServer();
  let t: TestApp;

  beforeAll(async () => {
    await vonage.start();
    await webhook.start();
    await sns.start();
    sns.handler = (r) =>
      r.form.get('Action') === 'Publish' &&
      /^AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE\//.test(String(r.headers.authorization))
        ? { status: 200, contentType: 'text/xml', body: publishAnswer(`m-${randomInt(1e9)}`) }
        : {
            status: 403,
            contentType: 'text/xml',
            body: '<ErrorResponse><Error><Code>InvalidClientTokenId</Code></Error></ErrorResponse>',
          };
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
      SMS_ROUTES: 'CH=vonage;US=sns;*=webhook',
      SMS_SENDER_IDS: 'CH=MyApp CH;US=MyAppUS',
      SNS_REGION: 'us-east-1',
      SNS_ENDPOINT: sns.url,
      SNS_ACCESS_KEY_ID: 'AKIAIOSFODNN7EXAMPLE',
      SNS_SECRET_ACCESS_KEY: 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY',
      SNS_TIMEOUT: '1s',
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
    await sns.close();
  }, 60_000);

  it('sends a Swiss number through Vonage, a US one through SNS, a German one through the webhook; each code verifies', async () => {
    const swiss = randomMobile();
    const american = randomUsNumber();
    const german = randomGermanNumber();
    const ch = await createHuman(t, { phone: swiss, phoneMode: 'sendCode' });
    const us = await createHuman(t, { phone: american, phoneMode: 'sendCode' });
    const de = await createHuman(t, { phone: german, phoneMode: 'sendCode' });
    const rows = [await settledRow(t, ch.userId), await settledRow(t, us.userId), await settledRow(t, de.userId)];
    expect(rows.map((row) => row.provider)).toEqual(['vonage', 'sns', 'webhook']);

    const toVonage = vonage.requests.filter((r) => r.form.get('to') === swiss.slice(1));
    expect(toVonage).toHaveLength(1);
    const form = Object.fromEntries(toVonage[0].form);
    expect(form).toMatchObject({
      from: 'MyApp CH',
      callback: 'https://verify.example.com/v2/sms/receipts/vonage',
      'client-ref': rows[0].id,
    });
    // the code's remaining life (PHONE_CODE_TTL 10 min), sent within moments of its issue
    expect(Number(form.ttl)).toBeGreaterThan(590_000);
    expect(Number(form.ttl)).toBeLessThanOrEqual(600_000);

    const toSns = sns.requests.filter((r) => r.form.get('PhoneNumber') === american);
    expect(toSns).toHaveLength(1);
    const published = Object.fromEntries(toSns[0].form);
    expect(published).toMatchObject({
      Action: 'Publish',
      'MessageAttributes.entry.1.Name': 'AWS.SNS.SMS.SMSType',
      'MessageAttributes.entry.1.Value.StringValue': 'Transactional',
      'MessageAttributes.entry.2.Name': 'AWS.SNS.SMS.SenderID',
      'MessageAttributes.entry.2.Value.StringValue': 'MyAppUS',
    });

    const toWebhook = webhook.requests.filter((r) => r.json.to === german);
    expect(toWebhook).toHaveLength(1);
    // each number went to its route's provider only
    expect(webhook.requests.some((r) => r.json.to === swiss || r.json.to === american)).toBe(false);
    expect(vonage.requests.some((r) => r.form.get('to') !== swiss.slice(1))).toBe(false);
    expect(sns.requests.some((r) => r.form.get('PhoneNumber') !== american)).toBe(false);

    const codeIn = (text: string) => /^([A-Z0-9]{8}) is your code/.exec(text)![1];
    for (const [userId, code] of [
      [ch.userId, codeIn(form.text)],
      [us.userId, codeIn(published.Message)],
      [de.userId, toWebhook[0].json.code as string],
    ]) {
      await t
        .http()
        .post(`/v2/users/${userId}/phone/verify`)
        .set(bearer(t.adminToken))
        .send({ verificationCode: code })
        .expect(200);
    }

    const counted = await sends(t);
    expect(counted['vonage/CH/accepted']).toBe(1);
    expect(counted['sns/US/accepted']).toBe(1);
    expect(counted['webhook/*/accepted']).toBe(1);
    expect(counted['vonage/CH/rejected']).toBe(0);
    expect(Object.keys(counted).every((key) => /^(vonage\/CH|sns\/US|webhook\/\*)\//.test(key))).toBe(true);
    for (const number of [swiss, american, german]) {
      expect(t.logs.filter((line) => line.includes(number.slice(1)))).toEqual([]);
    }
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
