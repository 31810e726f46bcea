import { createHash, createHmac } from 'node:crypto';
import { ManualClock } from '../../../test/support/fakes/clock';
import { MetaReceiptParser, TwilioCallReceiptParser, VonageVoiceReceiptParser } from './channel-receipts';
import { ReceiptRejected, ReceiptRequest } from './delivery-receipt';
import { twilioSignature } from './twilio-receipts';

const rejection = (parse: () => unknown): ReceiptRejected => {
  try {
    parse();
  } catch (error) {
    if (error instanceof ReceiptRejected) return error;
    throw error;
  }
  throw new Error('not rejected');
};

describe(MetaReceiptParser.name, () => {
  const SECRET = 'app-secret-0123456789abcdef';
  const parser = new MetaReceiptParser(SECRET);
  const webhook = (statuses: object[], secret = SECRET): ReceiptRequest => {
    const rawBody = Buffer.from(
      JSON.stringify({
        object: 'whatsapp_business_account',
        entry: [
          {
            id: '102290129340398',
            changes: [
              {
                field: 'messages',
                value: { messaging_product: 'whatsapp', metadata: { phone_number_id: '106540352242922' }, statuses },
              },
            ],
          },
        ],
      }),
    );
    const signature = `sha256=${createHmac('sha256', secret).update(rawBody).digest('hex')}`;
    return {
      url: 'https://verify.example.com/v2/sms/receipts/meta',
      headers: { 'x-hub-signature-256': signature, 'content-type': 'application/json' },
      rawBody,
    };
  };

  it('reads sent, delivered, read and failed statuses, with the error code and time', () => {
    const receipts = parser.parse(
      webhook([
        { id: 'wamid.A', status: 'sent', timestamp: '1764590400', recipient_id: '41791234567' },
        { id: 'wamid.A', status: 'delivered', timestamp: '1764590401' },
        { id: 'wamid.A', status: 'read', timestamp: '1764590402' },
        {
          id: 'wamid.B',
          status: 'failed',
          timestamp: '1764590403',
          errors: [{ code: 131026, title: 'Undeliverable' }],
        },
        { id: 'wamid.C', status: 'deleted' },
      ]),
    );
    expect(receipts).toEqual([
      { provider: 'meta', providerMessageId: 'wamid.A', status: 'sent', at: new Date(1764590400_000) },
      { provider: 'meta', providerMessageId: 'wamid.A', status: 'delivered', at: new Date(1764590401_000) },
      { provider: 'meta', providerMessageId: 'wamid.A', status: 'delivered', at: new Date(1764590402_000) },
      {
        provider: 'meta',
        providerMessageId: 'wamid.B',
        status: 'failed',
        errorCode: '131026',
        at: new Date(1764590403_000),
      },
    ]);
    expect(parser.errorLabel('131026')).toBe('meta_131026');
    expect(parser.errorLabel('1')).toBe('other');
  });

  it('refuses a webhook signed with another secret, unsigned, or any when no app secret is set', () => {
    expect(rejection(() => parser.parse(webhook([], 'another-secret-0123456789'))).status).toBe(401);
    const unsigned = { ...webhook([]), headers: {} };
    expect(rejection(() => parser.parse(unsigned)).status).toBe(401);
    expect(rejection(() => new MetaReceiptParser(undefined).parse(webhook([]))).status).toBe(401);
  });

  it("answers Meta's URL verification with the challenge only for the verify token", () => {
    const verifying = new MetaReceiptParser(SECRET, 'verify-token-123');
    const query = (token: string, challenge = '1158201444') =>
      new URLSearchParams({ 'hub.mode': 'subscribe', 'hub.verify_token': token, 'hub.challenge': challenge });
    expect(verifying.challenge(query('verify-token-123'))).toBe('1158201444');
    expect(verifying.challenge(new URLSearchParams('a=b'))).toBeUndefined();
    expect(rejection(() => verifying.challenge(query('verify-token-124'))).status).toBe(401);
    expect(rejection(() => parser.challenge(query('verify-token-123'))).status).toBe(401);
    expect(rejection(() => verifying.challenge(query('verify-token-123', '<script>'))).status).toBe(400);
  });

  it('acknowledges a webhook without statuses (an incoming message) with no receipt', () => {
    expect(parser.parse(webhook([]))).toEqual([]);
  });
});

describe(TwilioCallReceiptParser.name, () => {
  const TOKEN = 'auth-token-0123456789abcdef';
  const URL = 'https://verify.example.com/v2/sms/receipts/twilio-voice';
  const SID = `CA${'0'.repeat(32)}`;
  const parser = new TwilioCallReceiptParser(TOKEN);
  const callback = (fields: Record<string, string>, token = TOKEN): ReceiptRequest => {
    const form = new URLSearchParams(fields);
    return {
      url: URL,
      headers: { 'x-twilio-signature': twilioSignature(token, URL, form) },
      rawBody: Buffer.from(form.toString()),
    };
  };

  it.each([
    ['completed', 'delivered'],
    ['busy', 'undelivered'],
    ['no-answer', 'undelivered'],
    ['canceled', 'undelivered'],
    ['failed', 'failed'],
    ['ringing', 'queued'],
  ])('reads the call status %s as %s', (callStatus, status) => {
    expect(parser.parse(callback({ CallSid: SID, CallStatus: callStatus, AccountSid: 'AC1' }))).toEqual([
      { provider: 'twilio-voice', providerMessageId: SID, status },
    ]);
  });

  it('refuses a callback with a wrong signature, or about no call', () => {
    expect(
      rejection(() => parser.parse(callback({ CallSid: SID, CallStatus: 'completed' }, 'other-token'))).status,
    ).toBe(401);
    expect(rejection(() => parser.parse(callback({ CallSid: 'SM1', CallStatus: 'completed' }))).status).toBe(400);
  });
});

describe(VonageVoiceReceiptParser.name, () => {
  const SECRET = 'signature-secret-0123456789abcdef';
  const UUID = '63f61863-4a51-4f6b-86e1-46edebcf9356';
  const clock = new ManualClock('2026-12-01T12:00:00Z');
  const parser = new VonageVoiceReceiptParser(SECRET, clock);
  const b64 = (value: object) => Buffer.from(JSON.stringify(value)).toString('base64url');
  const event = (body: object, options: { secret?: string; iat?: number; hash?: string; alg?: string } = {}) => {
    const rawBody = Buffer.from(JSON.stringify(body));
    const header = b64({ alg: options.alg ?? 'HS256', typ: 'JWT' });
    const payload = b64({
      iat: options.iat ?? Math.floor(clock.now().getTime() / 1000),
      jti: 'c1b2',
      api_key: 'a1b2c3d4',
      payload_hash: options.hash ?? createHash('sha256').update(rawBody).digest('hex'),
    });
    const signature = createHmac('sha256', options.secret ?? SECRET)
      .update(`${header}.${payload}`)
      .digest('base64url');
    return {
      url: 'https://verify.example.com/v2/sms/receipts/vonage-voice',
      headers: { authorization: `Bearer ${header}.${payload}.${signature}`, 'content-type': 'application/json' },
      rawBody,
    };
  };

  it.each([
    [{ status: 'completed', duration: '12' }, 'delivered'],
    [{ status: 'unanswered' }, 'undelivered'],
    [{ status: 'busy' }, 'undelivered'],
    [{ status: 'timeout' }, 'undelivered'],
    [{ status: 'failed' }, 'failed'],
    [{ status: 'answered' }, 'sent'],
  ])('reads %p as %s', (fields, status) => {
    expect(
      parser.parse(event({ uuid: UUID, conversation_uuid: 'CON-1', timestamp: '2026-12-01T11:59:58.000Z', ...fields })),
    ).toEqual([
      { provider: 'vonage-voice', providerMessageId: UUID, status, at: new Date('2026-12-01T11:59:58.000Z') },
    ]);
  });

  it('takes a completed call without a duration (never answered) for no receipt', () => {
    expect(parser.parse(event({ uuid: UUID, status: 'completed', duration: '0' }))).toEqual([]);
  });

  it('refuses an event signed with another secret, another body, an old token, or another algorithm', () => {
    const body = { uuid: UUID, status: 'completed', duration: '3' };
    expect(rejection(() => parser.parse(event(body, { secret: 'another-secret-0123456789abc' }))).status).toBe(401);
    expect(rejection(() => parser.parse(event(body, { hash: 'ab'.repeat(32) }))).status).toBe(401);
    const old = Math.floor(clock.now().getTime() / 1000) - 3600;
    expect(rejection(() => parser.parse(event(body, { iat: old }))).status).toBe(401);
    expect(rejection(() => parser.parse(event(body, { alg: 'none' }))).status).toBe(401);
    expect(rejection(() => parser.parse({ ...event(body), headers: {} })).status).toBe(401);
    expect(rejection(() => new VonageVoiceReceiptParser(undefined, clock).parse(event(body))).status).toBe(401);
  });
});
