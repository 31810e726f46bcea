import fc from 'fast-check';
import { randomBytes } from 'node:crypto';
import { receiptUrl } from '../../src/phone/sms/delivery-receipt';
import { twilioSignature } from '../../src/phone/sms/twilio-receipts';
import { webhookReceiptKey, webhookReceiptSignature } from '../../src/phone/sms/webhook-receipts';
import { SIGNATURE_HEADER } from '../../src/phone/sms/webhook-sms-sender';
import { DATABASES, startApp, TestApp } from '../support/test-app';
import { checkRestAnswer } from './support/checks';
import { FUZZ_TIMEOUT, fuzz, hostileString, jsonArb, jsonText } from './support/fuzz';

const PUBLIC_URL = 'https://verify.example.com/pv';
const TWILIO_TOKEN = randomBytes(16).toString('hex');
const WEBHOOK_KEY = randomBytes(32).toString('hex');
/** Nothing listens here: no message is sent in this file, only receipts are received. */
const NOWHERE = 'http://127.0.0.1:9';

const RECEIPT_FIELDS = [
  'MessageSid',
  'MessageStatus',
  'ErrorCode',
  'id',
  'status',
  'errorCode',
  'at',
  'messageId',
  'message-id',
  'err-code',
  'sig',
  'timestamp',
  'api-key',
  'reference',
  'statusErrorCode',
];
const visible = fc.string({
  unit: fc.integer({ min: 0x20, max: 0x7e }).map((c) => String.fromCharCode(c)),
  maxLength: 80,
});
const form = fc
  .array(fc.tuple(fc.oneof(fc.constantFrom(...RECEIPT_FIELDS), visible), fc.oneof(visible, hostileString)), {
    maxLength: 8,
  })
  .map((pairs) => new URLSearchParams(pairs));

/**
 * Hostile delivery receipts on the public receipt endpoints of every provider, unsigned, wrongly
 * signed and correctly signed over hostile bodies: never a 5xx, every refusal in the error body.
 */
describe.each(DATABASES)('fuzz: SMS delivery receipts (%s)', (db) => {
  let t: TestApp;

  beforeAll(async () => {
    t = await startApp(db, {
      SMS_ROUTES: 'CH=twilio,vonage;US=messagebird;*=webhook',
      SMS_RECEIPTS_BASE_URL: PUBLIC_URL,
      SMS_WEBHOOK_URL: `${NOWHERE}/sms`,
      SMS_WEBHOOK_SIGNING_KEY: WEBHOOK_KEY,
      TWILIO_BASE_URL: NOWHERE,
      TWILIO_ACCOUNT_SID: `AC${randomBytes(16).toString('hex')}`,
      TWILIO_AUTH_TOKEN: TWILIO_TOKEN,
      TWILIO_FROM_NUMBER: '+15005550006',
      VONAGE_BASE_URL: NOWHERE,
      VONAGE_API_KEY: 'a1b2c3d4',
      VONAGE_API_SECRET: 'Zx9Yw8Vu7Ts6Rq5P',
      VONAGE_SIGNATURE_SECRET: randomBytes(24).toString('hex'),
      VONAGE_FROM: 'MyApp',
      MESSAGEBIRD_BASE_URL: NOWHERE,
      MESSAGEBIRD_ACCESS_KEY: 'live_0123456789abcdef',
      MESSAGEBIRD_SIGNING_KEY: randomBytes(24).toString('hex'),
      MESSAGEBIRD_ORIGINATOR: 'MyApp',
    });
  }, 60_000);
  afterAll(() => t?.close(), 60_000);

  it(
    'providers, methods, content types, queries, signature headers and bodies',
    async () => {
      const request = fc.record({
        provider: fc.oneof(
          { weight: 6, arbitrary: fc.constantFrom('twilio', 'webhook', 'vonage', 'messagebird') },
          { weight: 1, arbitrary: fc.constantFrom('sns', 'none', 'console', 'TWILIO', '..', '%2e%2e') },
        ),
        get: fc.boolean(),
        query: fc.option(form, { nil: undefined }),
        contentType: fc.constantFrom(
          'application/json',
          'application/x-www-form-urlencoded',
          'text/plain',
          'application/octet-stream',
        ),
        body: fc.oneof(form.map(String), jsonArb(RECEIPT_FIELDS).map(jsonText), hostileString),
        headers: fc.array(
          fc.tuple(
            fc.constantFrom(
              'X-Twilio-Signature',
              SIGNATURE_HEADER,
              'MessageBird-Signature-JWT',
              'MessageBird-Request-Timestamp',
            ),
            visible,
          ),
          { maxLength: 3 },
        ),
      });
      await fuzz(
        fc.asyncProperty(request, async ({ provider, get, query, contentType, body, headers }) => {
          const path = `/v2/sms/receipts/${provider}${query?.size ? `?${query}` : ''}`;
          let req = get ? t.http().get(path) : t.http().post(path).set('Content-Type', contentType);
          for (const [name, value] of headers) req = req.set(name, value);
          const res = await (get ? req : req.send(body));
          checkRestAnswer(res.status, res.text, t.logs);
        }),
        300,
      );
    },
    FUZZ_TIMEOUT,
  );

  it(
    'correctly signed receipts with hostile contents (Twilio forms, webhook JSON)',
    async () => {
      const request = fc.oneof(
        form.map((params) => ({ provider: 'twilio' as const, body: params.toString(), params })),
        fc
          .oneof(jsonArb(RECEIPT_FIELDS).map(jsonText), hostileString)
          .map((body) => ({ provider: 'webhook' as const, body, params: undefined })),
      );
      await fuzz(
        fc.asyncProperty(request, async ({ provider, body, params }) => {
          const req = t.http().post(`/v2/sms/receipts/${provider}`);
          if (provider === 'twilio') {
            const signature = twilioSignature(TWILIO_TOKEN, receiptUrl(PUBLIC_URL, 'twilio'), params!);
            req.set('Content-Type', 'application/x-www-form-urlencoded').set('X-Twilio-Signature', signature);
          } else {
            const at = Math.floor(t.clock.now().getTime() / 1000);
            req
              .set('Content-Type', 'application/json')
              .set(SIGNATURE_HEADER, `t=${at},v1=${webhookReceiptSignature(webhookReceiptKey(WEBHOOK_KEY), at, body)}`);
          }
          const res = await req.send(body);
          checkRestAnswer(res.status, res.text, t.logs);
          // authentic: never refused as a forgery
          expect(res.status).not.toBe(401);
        }),
        300,
      );
    },
    FUZZ_TIMEOUT,
  );
});
