import { SignJWT } from 'jose';
import { createHash, randomBytes, randomInt } from 'node:crypto';
import { vonageSignature } from '../src/phone/sms/vonage-sms-sender';
import { createHuman, randomMobile } from './support/factories';
import { FakeHttpServer } from './support/fake-http';
import { bearer, DATABASES, startApp, TestApp } from './support/test-app';
import { outboxRowWhen } from './support/outbox';

jest.setTimeout(30_000);

const PUBLIC_URL = 'https://verify.example.com';
const VONAGE_KEY = 'a1b2c3d4';
const VONAGE_SIGNATURE_SECRET = randomBytes(24).toString('hex');
const MESSAGEBIRD_KEY = 'live_0123456789abcdef';
const MESSAGEBIRD_SIGNING_KEY = randomBytes(24).toString('hex');

/**
 * SMS_ROUTES=CH=vonage,messagebird;*=webhook with receipts on: fakes of Vonage's SMS API and of
 * MessageBird's REST API; their receipts come as signed GET requests, as both send them by default.
 */
describe.each(DATABASES)('Receipts of routed providers: Vonage then MessageBird (%s)', (db) => {
  const vonage = new FakeHttpServer();
  const messagebird = new FakeHttpServer();
  const webhook = new FakeHttpServer();
  let t: TestApp;

  /** A signed Vonage DLR for `messageId`, as a GET path with its query. */
  function vonageReceipt(messageId: string, status: string, errCode = '0', secret = VONAGE_SIGNATURE_SECRET) {
    const params: Record<string, string> = {
      msisdn: '41790000000',
      to: 'MyApp',
      messageId,
      status,
      'err-code': errCode,
      'api-key': VONAGE_KEY,
      'message-timestamp': '2026-12-01 12:00:30',
      timestamp: String(Math.floor(t.clock.now().getTime() / 1000)),
      nonce: randomBytes(8).toString('hex'),
    };
    params.sig = vonageSignature(params, secret, 'sha256');
    return `/v2/sms/receipts/vonage?${new URLSearchParams(params).toString()}`;
  }

  /** A MessageBird status report for `id`: the GET path and its MessageBird-Signature-JWT over the public URL. */
  async function messageBirdReport(id: string, status: string) {
    const path = `/v2/sms/receipts/messagebird?${new URLSearchParams({ id, status, statusDatetime: new Date().toISOString() })}`;
    const now = Math.floor(t.clock.now().getTime() / 1000);
    const jwt = await new SignJWT({ url_hash: createHash('sha256').update(`${PUBLIC_URL}${path}`).digest('hex') })
      .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
      .setIssuer('MessageBird')
      .setIssuedAt(now)
      .setNotBefore(now)
      .setExpirationTime(now + 60)
      .setJti(randomBytes(8).toString('hex'))
      .sign(new TextEncoder().encode(MESSAGEBIRD_SIGNING_KEY));
    return { path, jwt };
  }

  beforeAll(async () => {
    await vonage.start();
    await messagebird.start();
    await webhook.start();
    vonage.handler = (r) => ({
      status: 200,
      body: JSON.stringify({ messages: [{ status: '0', 'message-id': `V${randomInt(1e9)}`, to: r.form.get('to') }] }),
    });
    messagebird.handler = () => ({ status: 201, body: JSON.stringify({ id: `mb${randomBytes(8).toString('hex')}` }) });
    webhook.handler = () => ({ status: 204 });
    t = await startApp(db, {
      SMS_ROUTES: 'CH=vonage,messagebird;*=webhook',
      SMS_RECEIPTS_BASE_URL: PUBLIC_URL,
      SMS_WEBHOOK_URL: `${webhook.url}/sms`,
      VONAGE_BASE_URL: vonage.url,
      VONAGE_API_KEY: VONAGE_KEY,
      VONAGE_API_SECRET: 'Zx9Yw8Vu7Ts6Rq5P',
      VONAGE_SIGNATURE_SECRET,
      VONAGE_FROM: 'MyApp',
      MESSAGEBIRD_BASE_URL: messagebird.url,
      MESSAGEBIRD_ACCESS_KEY: MESSAGEBIRD_KEY,
      MESSAGEBIRD_SIGNING_KEY,
      MESSAGEBIRD_ORIGINATOR: 'MyApp',
      SMS_POLL_INTERVAL: '50ms',
      PHONE_CODE_ALPHABET: 'alphanumeric',
      PHONE_CODE_LENGTH: '8',
    });
  }, 60_000);
  afterAll(async () => {
    await t?.close();
    await vonage.close();
    await messagebird.close();
    await webhook.close();
  }, 60_000);

  it('a signed Vonage receipt marks the message delivered; an unsigned one is refused with 401', async () => {
    const { userId } = await createHuman(t, { phone: randomMobile(), phoneMode: 'sendCode' });
    const row = await outboxRowWhen(t, userId, 'Vonage to accept', (r) => r.status === 'delivered');
    expect(row.provider).toBe('vonage');
    const bad = vonageReceipt(row.providerMessageId!, 'failed', '6', 'another-secret-0123456789');
    await t.http().get(bad).expect(401);
    await t.http().get(vonageReceipt(row.providerMessageId!, 'delivered')).expect(200);
    expect(await outboxRowWhen(t, userId, 'delivered', (r) => r.deliveryStatus === 'delivered')).toMatchObject({
      provider: 'vonage',
      status: 'delivered',
    });
  });

  it("Vonage's failed receipt sends the same code through MessageBird, whose signed report then says delivered", async () => {
    const phone = randomMobile();
    const { userId } = await createHuman(t, { phone, phoneMode: 'sendCode' });
    const first = await outboxRowWhen(t, userId, 'Vonage to accept', (r) => r.status === 'delivered');
    await t
      .http()
      .get(vonageReceipt(first.providerMessageId!, 'failed', '6'))
      .expect(200);
    const second = await outboxRowWhen(t, userId, 'MessageBird to accept', (r) => r.provider === 'messagebird');
    const [sent] = messagebird.requests.filter((r) => r.json.recipients?.[0] === phone.slice(1));
    const code = String(sent.json.body).split(' ')[0];
    expect(vonage.requests.find((r) => r.form.get('to') === phone.slice(1))!.form.get('text')).toContain(code);
    expect(sent.json.reportUrl).toBe(`${PUBLIC_URL}/v2/sms/receipts/messagebird`);

    const { path, jwt } = await messageBirdReport(second.providerMessageId!, 'delivered');
    await t.http().get(path).set('MessageBird-Signature-JWT', jwt).expect(200);
    await outboxRowWhen(t, userId, 'delivered', (r) => r.deliveryStatus === 'delivered');
    await t
      .http()
      .post(`/v2/users/${userId}/phone/verify`)
      .set(bearer(t.adminToken))
      .send({ verificationCode: code })
      .expect(200);
  });
});
