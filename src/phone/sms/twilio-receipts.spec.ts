import { ReceiptRejected, ReceiptRequest } from './delivery-receipt';
import { TwilioReceiptParser, twilioSignature } from './twilio-receipts';

const TOKEN = 'f0e1d2c3b4a5968778695a4b3c2d1e0f';
const URL = 'https://verify.example.com/v2/sms/receipts/twilio';
const SID = 'SM0123456789abcdef0123456789abcdef';

function signed(fields: Record<string, string>, url = URL, token = TOKEN): ReceiptRequest {
  const form = new URLSearchParams(fields);
  return {
    url,
    headers: { 'x-twilio-signature': twilioSignature(token, url, form) },
    rawBody: Buffer.from(form.toString()),
  };
}

function rejection(request: ReceiptRequest): ReceiptRejected {
  try {
    new TwilioReceiptParser(TOKEN).parse(request);
  } catch (error) {
    if (error instanceof ReceiptRejected) return error;
    throw error;
  }
  throw new Error('the receipt was taken');
}

describe('Twilio receipts', () => {
  it("signs as Twilio's documented example does (URL with query, POST params sorted by name)", () => {
    // https://www.twilio.com/docs/usage/security#validating-requests
    const params = new URLSearchParams({
      CallSid: 'CA1234567890ABCDE',
      Caller: '+12349013030',
      Digits: '1234',
      From: '+12349013030',
      To: '+18005551212',
    });
    expect(twilioSignature('12345', 'https://mycompany.com/myapp.php?foo=1&bar=2', params)).toBe(
      '0/KCTR6DLpKmkAf8muzZqo1nDgQ=',
    );
  });

  it('sorts by name whatever order the form came in', () => {
    const a = new URLSearchParams([
      ['b', '1'],
      ['a', '2'],
    ]);
    const b = new URLSearchParams([
      ['a', '2'],
      ['b', '1'],
    ]);
    expect(twilioSignature(TOKEN, URL, a)).toBe(twilioSignature(TOKEN, URL, b));
  });

  it('reads MessageSid, MessageStatus and ErrorCode of a signed callback', () => {
    const parser = new TwilioReceiptParser(TOKEN);
    const fields = {
      AccountSid: 'AC0123',
      MessageSid: SID,
      MessageStatus: 'undelivered',
      ErrorCode: '30003',
      To: '+41791234567',
    };
    expect(parser.parse(signed(fields))).toEqual([
      { provider: 'twilio', providerMessageId: SID, status: 'undelivered', errorCode: '30003' },
    ]);
    expect(parser.parse(signed({ MessageSid: SID, MessageStatus: 'delivered' }))).toEqual([
      { provider: 'twilio', providerMessageId: SID, status: 'delivered' },
    ]);
  });

  it.each([
    ['accepted', 'queued'],
    ['scheduled', 'queued'],
    ['queued', 'queued'],
    ['sending', 'queued'],
    ['sent', 'sent'],
    ['delivered', 'delivered'],
    ['read', 'delivered'],
    ['undelivered', 'undelivered'],
    ['failed', 'failed'],
    ['canceled', 'failed'],
  ])('maps MessageStatus %s to %s', (twilio, ours) => {
    expect(new TwilioReceiptParser(TOKEN).parse(signed({ MessageSid: SID, MessageStatus: twilio }))[0].status).toBe(
      ours,
    );
  });

  it('acknowledges a status that is no receipt (inbound, or new) with nothing to apply', () => {
    expect(new TwilioReceiptParser(TOKEN).parse(signed({ MessageSid: SID, MessageStatus: 'received' }))).toEqual([]);
  });

  it('refuses a request without a signature, or signed with another token, URL or body (401)', () => {
    const good = signed({ MessageSid: SID, MessageStatus: 'delivered' });
    expect(rejection({ ...good, headers: {} })).toMatchObject({ status: 401 });
    expect(
      rejection(signed({ MessageSid: SID, MessageStatus: 'delivered' }, URL, 'another-token-0123456789')),
    ).toMatchObject({
      status: 401,
    });
    expect(rejection({ ...good, url: `${URL}?x=1` })).toMatchObject({ status: 401 });
    const tampered = Buffer.from(good.rawBody.toString().replace('delivered', 'undelivered'));
    expect(rejection({ ...good, rawBody: tampered })).toMatchObject({ status: 401 });
    expect(rejection({ ...good, headers: { 'x-twilio-signature': 'short' } })).toMatchObject({ status: 401 });
  });

  it('refuses an authentic callback without a Message SID or status (400)', () => {
    expect(rejection(signed({ MessageStatus: 'delivered' }))).toMatchObject({ status: 400 });
    expect(rejection(signed({ MessageSid: 'CA1234', MessageStatus: 'delivered' }))).toMatchObject({ status: 400 });
    expect(rejection(signed({ MessageSid: SID }))).toMatchObject({ status: 400 });
  });

  it('drops an error code that is not a number', () => {
    const [receipt] = new TwilioReceiptParser(TOKEN).parse(
      signed({ MessageSid: SID, MessageStatus: 'failed', ErrorCode: '<script>' }),
    );
    expect(receipt.errorCode).toBeUndefined();
  });

  it('names its known error codes in metrics and every other one other', () => {
    const parser = new TwilioReceiptParser(TOKEN);
    for (const code of ['30003', '30005', '30006', '30007', '30008', '30044'])
      expect(parser.errorLabel(code)).toBe(code);
    expect(parser.errorLabel('30999')).toBe('other');
    expect(parser.errorLabel('')).toBe('other');
  });
});
