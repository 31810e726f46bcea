import { randomBytes } from 'node:crypto';
import { SmsOutboxEntity } from '../src/phone/outbox/sms-outbox.entity';
import { SmsReceiptEntity } from '../src/phone/outbox/sms-receipt.entity';
import { SmsReceiptSweeper } from '../src/phone/outbox/sms-receipt-sweeper';
import { webhookReceiptKey, webhookReceiptSignature } from '../src/phone/sms/webhook-receipts';
import { webhookSignature } from '../src/phone/sms/webhook-sms-sender';
import { eventsOf } from './support/events';
import { createHuman, randomMobile } from './support/factories';
import { FakeHttpServer, Reply } from './support/fake-http';
import { until } from './support/wait';
import { SmsOutboxWorker } from '../src/phone/outbox/sms-outbox.worker';
import { FakeTwilio, postTwilioCallback, TwilioMessage } from './support/fake-twilio';
import { Sample, scrape, valueOf } from './support/prometheus';
import { bearer, DATABASES, dataSourceOf, freePort, startApp, TestApp } from './support/test-app';
import { outboxRow, outboxRowWhen } from './support/outbox';

jest.setTimeout(30_000);

const SIGNING_KEY = randomBytes(32).toString('hex');
const TWILIO_SID = `AC${randomBytes(16).toString('hex')}`;
const TWILIO_TOKEN = randomBytes(16).toString('hex');
const PUBLIC_URL = 'https://verify.example.com/pv';

/** Every message due has been tried: what was not sent by now was not queued (no waiting on time). */
async function outboxDrained(t: TestApp): Promise<void> {
  const worker = t.app.get(SmsOutboxWorker);
  worker.kick();
  await worker.idle();
}

/** The chain twilio,webhook against the two fakes, polled often. */
function providers(twilio: FakeTwilio, webhook: FakeHttpServer): Record<string, string> {
  return {
    SMS_PROVIDER: 'twilio,webhook',
    TWILIO_BASE_URL: twilio.url,
    TWILIO_ACCOUNT_SID: TWILIO_SID,
    TWILIO_AUTH_TOKEN: TWILIO_TOKEN,
    TWILIO_FROM_NUMBER: '+15005550006',
    SMS_WEBHOOK_URL: `${webhook.url}/sms`,
    SMS_WEBHOOK_SIGNING_KEY: SIGNING_KEY,
    SMS_POLL_INTERVAL: '50ms',
  };
}
const TWILIO_RECEIPTS = `${PUBLIC_URL}/v2/sms/receipts/twilio`;
const ok: Reply = { status: 200 };

const phoneEvents = async (t: TestApp, userId: string) =>
  (await eventsOf(t, userId))
    .filter((e) => e.type.startsWith('user.human.phone.code.'))
    .map((e) => [e.type, e.payload] as const);

/** The code of a text in the default template ("<code> is your code …"). */
const codeIn = (text: string) => text.split(' ')[0];

/** Counters by name and labels, to compare a scrape before and after (the app is shared by the tests). */
const counter = (samples: Sample[], name: string, labels: Record<string, string>) => valueOf(samples, name, labels);

/**
 * Twilio first, then the webhook (the failover chain), receipts on: Twilio is asked for status
 * callbacks at SMS_RECEIPTS_BASE_URL, and the webhook's gateway posts signed receipts. The fake
 * Twilio posts to the app's real address but signs the public URL, as Twilio behind a proxy does.
 */
describe.each(DATABASES)('SMS delivery receipts (%s)', (db) => {
  const twilio = new FakeTwilio(TWILIO_SID, TWILIO_TOKEN);
  const webhook = new FakeHttpServer();
  let t: TestApp;

  const callback = (sid: string, status: string, extra: Record<string, string> = {}) =>
    postTwilioCallback(t, TWILIO_RECEIPTS, TWILIO_TOKEN, {
      AccountSid: TWILIO_SID,
      MessageSid: sid,
      SmsSid: sid,
      MessageStatus: status,
      SmsStatus: status,
      To: '+41790000000',
      ApiVersion: '2010-04-01',
      ...extra,
    });
  const webhookReceipt = (body: unknown, signedAt = Math.floor(t.clock.now().getTime() / 1000), key = SIGNING_KEY) => {
    const raw = JSON.stringify(body);
    return t
      .http()
      .post('/v2/sms/receipts/webhook')
      .set('Content-Type', 'application/json')
      .set('ZITADEL-Signature', `t=${signedAt},v1=${webhookReceiptSignature(webhookReceiptKey(key), signedAt, raw)}`)
      .send(raw);
  };
  const verify = (userId: string, code: string) =>
    t.http().post(`/v2/users/${userId}/phone/verify`).set(bearer(t.adminToken)).send({ verificationCode: code });

  /** A user whose code Twilio accepted: its message, and the outbox row as the answer left it. */
  async function sentThroughTwilio(): Promise<{
    userId: string;
    phone: string;
    message: TwilioMessage;
    row: SmsOutboxEntity;
  }> {
    const phone = randomMobile();
    const { userId } = await createHuman(t, { phone, phoneMode: 'sendCode' });
    const row = await outboxRowWhen(t, userId, 'Twilio to accept', (r) => r.status === 'delivered');
    const [message] = twilio.to(phone);
    return { userId, phone, message, row };
  }

  beforeAll(async () => {
    await twilio.start();
    await webhook.start();
    t = await startApp(db, {
      ...providers(twilio, webhook),
      TWILIO_TIMEOUT: '2s',
      SMS_WEBHOOK_TIMEOUT: '1s',
      SMS_RECEIPTS_BASE_URL: PUBLIC_URL,
      METRICS_PORT: String(await freePort()),
    });
  }, 60_000);
  afterAll(async () => {
    await t?.close();
    await twilio.close();
    await webhook.close();
  }, 60_000);
  beforeEach(() => {
    twilio.beforeAnswer = undefined;
    twilio.answer = undefined;
    webhook.handler = () => ok;
  });

  it("asks Twilio for status callbacks with the code's remaining life; sent then delivered: row, event, metrics", async () => {
    const before = await scrape(t);
    const { userId, message, row } = await sentThroughTwilio();
    expect(message.statusCallback).toBe(TWILIO_RECEIPTS);
    expect(message.validityPeriod).toBeGreaterThan(590); // PHONE_CODE_TTL 10 min
    expect(message.validityPeriod).toBeLessThanOrEqual(600);
    // accepted: the sid is the row's, and the code stays sealed while the webhook could still be needed
    expect(row).toMatchObject({ provider: 'twilio', providerMessageId: message.sid, deliveryStatus: null });
    expect(row.sealedCode).toMatch(/^v1\./);

    await callback(message.sid, 'sent').expect(200, {});
    expect(await outboxRow(t, userId)).toMatchObject({ deliveryStatus: 'sent', status: 'delivered' });
    expect((await outboxRow(t, userId)).sealedCode).not.toBeNull();

    await callback(message.sid, 'delivered').expect(200, {});
    const delivered = await outboxRow(t, userId);
    expect(delivered).toMatchObject({
      status: 'delivered',
      deliveryStatus: 'delivered',
      deliveryError: null,
      sealedCode: null,
    });
    expect(delivered.deliveryStatusAt).toBeInstanceOf(Date);
    expect(await phoneEvents(t, userId)).toEqual([
      ['user.human.phone.code.added', expect.anything()],
      ['user.human.phone.code.sent', { provider: 'twilio', attempts: 1, channel: 'sms' }],
      ['user.human.phone.code.delivered', { provider: 'twilio', status: 'delivered', channel: 'sms' }],
    ]);
    const after = await scrape(t);
    const delta = (name: string, labels: Record<string, string>) =>
      counter(after, name, labels) - counter(before, name, labels);
    expect(delta('pv_sms_receipts_total', { provider: 'twilio', status: 'sent' })).toBe(1);
    expect(delta('pv_sms_receipts_total', { provider: 'twilio', status: 'delivered' })).toBe(1);
    expect(delta('pv_sms_delivered_total', { provider: 'twilio' })).toBe(1);
    // the series are there from the start, for every provider that takes receipts
    expect(before.some((s) => s.name === 'pv_sms_delivered_total' && s.labels.provider === 'webhook')).toBe(true);
    expect(
      before.some(
        (s) => s.name === 'pv_sms_receipts_total' && s.labels.provider === 'webhook' && s.labels.status === 'failed',
      ),
    ).toBe(true);
  });

  it('a duplicate receipt and a late sent change nothing (no second event, delivered counted once)', async () => {
    const { userId, message } = await sentThroughTwilio();
    await callback(message.sid, 'delivered').expect(200);
    const before = await scrape(t);
    await callback(message.sid, 'delivered').expect(200);
    await callback(message.sid, 'sent').expect(200);
    await callback(message.sid, 'queued').expect(200);
    expect(await outboxRow(t, userId)).toMatchObject({ deliveryStatus: 'delivered', status: 'delivered' });
    const types = (await phoneEvents(t, userId)).map(([type]) => type);
    expect(types.filter((type) => type === 'user.human.phone.code.delivered')).toHaveLength(1);
    const after = await scrape(t);
    expect(counter(after, 'pv_sms_delivered_total', { provider: 'twilio' })).toBe(
      counter(before, 'pv_sms_delivered_total', { provider: 'twilio' }),
    );
    expect(
      counter(after, 'pv_sms_receipts_total', { provider: 'twilio', status: 'delivered' }) -
        counter(before, 'pv_sms_receipts_total', { provider: 'twilio', status: 'delivered' }),
    ).toBe(1);
    // nothing waits: every receipt found its message
    expect(
      await dataSourceOf(t)
        .getRepository(SmsReceiptEntity)
        .count({ where: { providerMessageId: message.sid } }),
    ).toBe(0);
  });

  it('a delivered receipt after a failed one is believed (the handset has the text); failed after delivered is not', async () => {
    const { userId, message } = await sentThroughTwilio();
    await verify(userId, codeIn(message.body)).expect(200); // no retry: the failure is final at once
    await callback(message.sid, 'failed', { ErrorCode: '30008' }).expect(200);
    expect(await outboxRow(t, userId)).toMatchObject({ status: 'failed', deliveryStatus: 'failed' });
    await callback(message.sid, 'delivered').expect(200);
    expect(await outboxRow(t, userId)).toMatchObject({
      status: 'delivered',
      deliveryStatus: 'delivered',
      lastError: null,
    });
    await callback(message.sid, 'undelivered', { ErrorCode: '30003' }).expect(200);
    expect(await outboxRow(t, userId)).toMatchObject({ status: 'delivered', deliveryStatus: 'delivered' });
    expect((await phoneEvents(t, userId)).map(([type]) => type).slice(-2)).toEqual([
      'user.human.phone.code.delivery.failed',
      'user.human.phone.code.delivered',
    ]);
  });

  it('refuses a bad signature with 401, a bad body with 400, a provider without receipts with 404 (error bodies)', async () => {
    const { userId, message } = await sentThroughTwilio();
    const before = await scrape(t);
    const forged = await callback(message.sid, 'undelivered')
      .set('X-Twilio-Signature', 'bm90IGEgc2lnbmF0dXJlIGF0IGFsbA==')
      .expect(401);
    expect(forged.body).toMatchObject({
      code: 16,
      message: expect.stringContaining('X-Twilio-Signature does not match'),
      details: expect.arrayContaining([expect.objectContaining({ id: 'PHONE-rcpts1g' })]),
    });
    // signed over the app's own address instead of the public URL Twilio was given
    const wrongUrl = await postTwilioCallback(t, 'http://127.0.0.1/v2/sms/receipts/twilio', TWILIO_TOKEN, {
      MessageSid: message.sid,
      MessageStatus: 'undelivered',
    }).expect(401);
    expect(wrongUrl.body.details[0].id).toBe('PHONE-rcpts1g');
    const malformed = await postTwilioCallback(t, TWILIO_RECEIPTS, TWILIO_TOKEN, { MessageStatus: 'delivered' }).expect(
      400,
    );
    expect(malformed.body).toMatchObject({
      code: 3,
      details: expect.arrayContaining([expect.objectContaining({ id: 'PHONE-rcptbad' })]),
    });
    const unknown = await t.http().post('/v2/sms/receipts/vonage').send({}).expect(404);
    expect(unknown.body.details[0].id).toBe('PHONE-rcpt0ff');
    // old webhook signature, wrong key, bad JSON
    await webhookReceipt({ id: 'x', status: 'delivered' }, Math.floor(t.clock.now().getTime() / 1000) - 301).expect(
      401,
    );
    await webhookReceipt({ id: 'x', status: 'delivered' }, undefined, 'z'.repeat(64)).expect(401);
    await webhookReceipt({ id: 'x', status: 'lost' }).expect(400);

    expect(await outboxRow(t, userId)).toMatchObject({ deliveryStatus: null, status: 'delivered' });
    await outboxDrained(t);
    expect(webhook.requests.filter((r) => r.json.userId === userId)).toEqual([]);
    const after = await scrape(t);
    const rejected = (provider: string, reason: string) =>
      counter(after, 'pv_sms_receipts_rejected_total', { provider, reason }) -
      counter(before, 'pv_sms_receipts_rejected_total', { provider, reason });
    expect(rejected('twilio', 'signature')).toBe(2);
    expect(rejected('twilio', 'malformed')).toBe(1);
    expect(rejected('unknown', 'receipts_off')).toBe(1);
    expect(rejected('webhook', 'signature')).toBe(2);
    expect(rejected('webhook', 'malformed')).toBe(1);
  });

  it('acknowledges a receipt of a message it does not know, changing nothing', async () => {
    const sid = `SM${randomBytes(16).toString('hex')}`;
    await callback(sid, 'undelivered', { ErrorCode: '30003' }).expect(200, {});
    const waiting = await dataSourceOf(t)
      .getRepository(SmsReceiptEntity)
      .find({ where: { providerMessageId: sid } });
    expect(waiting).toMatchObject([{ provider: 'twilio', status: 'undelivered', errorCode: '30003' }]);
  });

  it("applies a receipt that came before the send's answer was stored, once the answer is", async () => {
    let posted: number | undefined;
    let whenPosted: SmsOutboxEntity | null = null;
    twilio.beforeAnswer = async (message) => {
      posted = (await callback(message.sid, 'delivered')).status;
      whenPosted = await dataSourceOf(t).getRepository(SmsOutboxEntity).findOneBy({ recipient: message.to });
    };
    const { userId, message, row } = await sentThroughTwilio();
    expect(posted).toBe(200);
    // the receipt was taken while the row was still in flight, without the sid
    expect(whenPosted).toMatchObject({ status: 'pending', providerMessageId: null });
    const done = await outboxRowWhen(t, userId, 'the receipt to be applied', (r) => r.deliveryStatus === 'delivered');
    expect(done).toMatchObject({ providerMessageId: message.sid, sealedCode: null, status: 'delivered' });
    expect(row.providerMessageId).toBe(message.sid);
    expect((await phoneEvents(t, userId)).map(([type]) => type)).toEqual([
      'user.human.phone.code.added',
      'user.human.phone.code.sent',
      'user.human.phone.code.delivered',
    ]);
    expect(
      await dataSourceOf(t)
        .getRepository(SmsReceiptEntity)
        .count({ where: { providerMessageId: message.sid } }),
    ).toBe(0);
  });

  it('an undelivered receipt that came before the answer sends the code through the webhook', async () => {
    twilio.beforeAnswer = async (message) => {
      await callback(message.sid, 'undelivered', { ErrorCode: '30003' });
    };
    const phone = randomMobile();
    const { userId } = await createHuman(t, { phone, phoneMode: 'sendCode' });
    const [request] = await until('the webhook to get it', () =>
      webhook.requests.filter((r) => r.json.userId === userId),
    );
    expect(request.json.code).toBe(codeIn(twilio.to(phone)[0].body));
    expect(await outboxRowWhen(t, userId, 'the webhook to take it', (r) => r.provider === 'webhook')).toMatchObject({
      status: 'delivered',
      failedProviders: 'twilio',
    });
  });

  it('refuses what our own key signs (a message we sent, or a receipt signed so) at the receipt endpoint: receipts have a key of their own', async () => {
    const { userId, message } = await sentThroughTwilio();
    await callback(message.sid, 'undelivered', { ErrorCode: '30003' }).expect(200);
    const [sent] = await until('the webhook to get it', () => webhook.requests.filter((r) => r.json.userId === userId));
    const replayed = await t
      .http()
      .post('/v2/sms/receipts/webhook')
      .set('Content-Type', 'application/json')
      .set('ZITADEL-Signature', String(sent.headers['zitadel-signature']))
      .send(sent.raw)
      .expect(401);
    expect(replayed.body.details[0].id).toBe('PHONE-rcpts1g');
    const raw = JSON.stringify({ id: sent.json.id, status: 'undelivered' });
    const at = Math.floor(t.clock.now().getTime() / 1000);
    const withOurKey = await t
      .http()
      .post('/v2/sms/receipts/webhook')
      .set('Content-Type', 'application/json')
      .set('ZITADEL-Signature', `t=${at},v1=${webhookSignature(SIGNING_KEY, at, raw)}`)
      .send(raw)
      .expect(401);
    expect(withOurKey.body.details[0].id).toBe('PHONE-rcpts1g');
    await webhookReceipt({ id: sent.json.id, status: 'delivered' }).expect(200);
  });

  it('undelivered through Twilio: the next provider (the webhook) gets the same code; undelivered there too: failed', async () => {
    const before = await scrape(t);
    const { userId, phone, message } = await sentThroughTwilio();
    await callback(message.sid, 'undelivered', { ErrorCode: '30003' }).expect(200);

    const [request] = await until('the webhook to get it', () =>
      webhook.requests.filter((r) => r.json.userId === userId),
    );
    const code = codeIn(message.body);
    expect(request.json).toMatchObject({ to: phone, code });
    const retried = await outboxRowWhen(
      t,
      userId,
      'the webhook to take it',
      (r) => r.provider === 'webhook' && r.status === 'delivered',
    );
    expect(retried).toMatchObject({
      providerMessageId: retried.id,
      failedProviders: 'twilio',
      deliveryStatus: null,
      attempts: 2,
      sealedCode: null, // no provider left after the webhook: nothing to keep it for
    });
    expect(twilio.to(phone)).toHaveLength(1);

    await webhookReceipt({ id: retried.id, status: 'undelivered', errorCode: 'ABSENT' }).expect(200, {});
    const failed = await outboxRow(t, userId);
    expect(failed).toMatchObject({
      status: 'failed',
      deliveryStatus: 'undelivered',
      deliveryError: 'ABSENT',
      failedProviders: 'twilio,webhook',
    });
    expect(await phoneEvents(t, userId)).toEqual([
      ['user.human.phone.code.added', expect.anything()],
      ['user.human.phone.code.sent', { provider: 'twilio', attempts: 1, channel: 'sms' }],
      ['user.human.phone.code.sent', { provider: 'webhook', attempts: 2, channel: 'sms' }],
      [
        'user.human.phone.code.delivery.failed',
        { provider: 'webhook', status: 'undelivered', errorCode: 'ABSENT', attempts: 2, channel: 'sms' },
      ],
    ]);
    // the events and rows name providers and statuses, never the number or the code
    for (const [, payload] of await phoneEvents(t, userId)) {
      expect(JSON.stringify(payload)).not.toContain(code);
      expect(JSON.stringify(payload)).not.toContain(phone);
    }
    const after = await scrape(t);
    const delta = (name: string, labels: Record<string, string>) =>
      counter(after, name, labels) - counter(before, name, labels);
    expect(delta('pv_sms_receipt_errors_total', { provider: 'twilio', code: '30003' })).toBe(1);
    expect(delta('pv_sms_receipt_errors_total', { provider: 'webhook', code: 'other' })).toBe(1);
    expect(delta('pv_sms_failed_total', { provider: 'webhook', reason: 'undelivered' })).toBe(1);
    // the code still verifies: the receipts say where the text went, not whether the code is good
    await verify(userId, code).expect(200);
  });

  it('an undelivered receipt after the code was verified retries nothing', async () => {
    const { userId, message } = await sentThroughTwilio();
    await verify(userId, codeIn(message.body)).expect(200);
    await callback(message.sid, 'failed', { ErrorCode: '30008' }).expect(200);
    expect(await outboxRow(t, userId)).toMatchObject({
      status: 'failed',
      deliveryStatus: 'failed',
      deliveryError: '30008',
      sealedCode: null,
    });
    await outboxDrained(t);
    expect(webhook.requests.filter((r) => r.json.userId === userId)).toEqual([]);
    const [type, payload] = (await phoneEvents(t, userId)).at(-1)!;
    expect([type, payload]).toEqual([
      'user.human.phone.code.delivery.failed',
      { provider: 'twilio', status: 'failed', errorCode: '30008', attempts: 1, channel: 'sms' },
    ]);
  });

  it('an undelivered receipt after the code expired retries nothing', async () => {
    const { userId, message } = await sentThroughTwilio();
    t.clock.advance(10 * 60_000); // PHONE_CODE_TTL
    try {
      await callback(message.sid, 'undelivered', { ErrorCode: '30003' }).expect(200);
      expect(await outboxRow(t, userId)).toMatchObject({
        status: 'failed',
        deliveryStatus: 'undelivered',
        sealedCode: null,
      });
      await outboxDrained(t);
      expect(webhook.requests.filter((r) => r.json.userId === userId)).toEqual([]);
    } finally {
      t.clock.advance(-10 * 60_000);
    }
  });

  it('an undelivered receipt with under a second of the code left retries nothing (the text would come dead)', async () => {
    const { userId, message } = await sentThroughTwilio();
    t.clock.advance(10 * 60_000 - 500);
    try {
      await callback(message.sid, 'undelivered', { ErrorCode: '30003' }).expect(200);
      expect(await outboxRow(t, userId)).toMatchObject({ status: 'failed', sealedCode: null });
      await outboxDrained(t);
      expect(webhook.requests.filter((r) => r.json.userId === userId)).toEqual([]);
    } finally {
      t.clock.advance(-(10 * 60_000 - 500));
    }
  });

  it('the sweep applies a receipt left waiting although its message is known (an apply cut short)', async () => {
    const { userId, message } = await sentThroughTwilio();
    const now = t.clock.now();
    await dataSourceOf(t).getRepository(SmsReceiptEntity).insert({
      provider: 'twilio',
      providerMessageId: message.sid,
      status: 'delivered',
      errorCode: null,
      statusAt: now,
      receivedAt: now,
    });
    await t.app.get(SmsReceiptSweeper).sweep();
    expect(await outboxRow(t, userId)).toMatchObject({ deliveryStatus: 'delivered', sealedCode: null });
    expect(
      await dataSourceOf(t)
        .getRepository(SmsReceiptEntity)
        .count({ where: { providerMessageId: message.sid } }),
    ).toBe(0);
  });

  it('erases the sealed code a message kept for a retry once its code is verified, replaced or expired', async () => {
    const verified = await sentThroughTwilio();
    const replaced = await sentThroughTwilio();
    const waiting = await sentThroughTwilio();
    await verify(verified.userId, codeIn(verified.message.body)).expect(200);
    await t
      .http()
      .post(`/v2/users/${replaced.userId}/phone/resend`)
      .set(bearer(t.adminToken))
      .send({ returnCode: {} })
      .expect(200);
    const sweep = () => t.app.get(SmsReceiptSweeper).sweep();
    await sweep();
    expect((await outboxRow(t, verified.userId)).sealedCode).toBeNull();
    expect((await outboxRow(t, replaced.userId)).sealedCode).toBeNull();
    expect((await outboxRow(t, waiting.userId)).sealedCode).not.toBeNull();
    t.clock.advance(10 * 60_000);
    try {
      await sweep();
      expect((await outboxRow(t, waiting.userId)).sealedCode).toBeNull();
    } finally {
      t.clock.advance(-10 * 60_000);
    }
  });
});

describe.each(DATABASES)('without SMS_RECEIPTS_BASE_URL (%s)', (db) => {
  const twilio = new FakeTwilio(TWILIO_SID, TWILIO_TOKEN);
  const webhook = new FakeHttpServer();
  let t: TestApp;

  beforeAll(async () => {
    await twilio.start();
    await webhook.start();
    t = await startApp(db, providers(twilio, webhook));
  }, 60_000);
  afterAll(async () => {
    await t?.close();
    await twilio.close();
    await webhook.close();
  }, 60_000);

  it('requests no status callbacks, erases the code once accepted, and takes no receipts', async () => {
    const phone = randomMobile();
    const { userId } = await createHuman(t, { phone, phoneMode: 'sendCode' });
    const row = await outboxRowWhen(t, userId, 'Twilio to accept', (r) => r.status === 'delivered');
    const [message] = twilio.to(phone);
    expect(message.statusCallback).toBeUndefined();
    expect(message.validityPeriod).toBeGreaterThan(590);
    expect(row).toMatchObject({ providerMessageId: message.sid, sealedCode: null });
    const refused = await postTwilioCallback(t, TWILIO_RECEIPTS, TWILIO_TOKEN, {
      MessageSid: message.sid,
      MessageStatus: 'undelivered',
    }).expect(404);
    expect(refused.body.details[0].id).toBe('PHONE-rcpt0ff');
  });
});
