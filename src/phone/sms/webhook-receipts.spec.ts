import { ManualClock } from '../../../test/support/fakes/clock';
import { ReceiptRejected, ReceiptRequest } from './delivery-receipt';
import { WebhookReceiptParser, webhookReceiptKey, webhookReceiptSignature } from './webhook-receipts';
import { webhookSignature } from './webhook-sms-sender';

const KEY = 'k'.repeat(40);
const URL = 'https://verify.example.com/v2/sms/receipts/webhook';
/** the receipt key of the documented example key */
const EXAMPLE_RECEIPT_KEY = 'd89b4fa0fae88b165a1d7fd232a2b01e8f2d574c4f5b67f6af87d0c7ef65666f';

describe(WebhookReceiptParser.name, () => {
  const clock = new ManualClock('2026-12-01T12:00:00Z');
  const now = () => Math.floor(clock.now().getTime() / 1000);
  const parser = new WebhookReceiptParser(KEY, clock);

  function signed(body: unknown, t = now(), key = KEY): ReceiptRequest {
    const raw = typeof body === 'string' ? body : JSON.stringify(body);
    return {
      url: URL,
      headers: { 'zitadel-signature': `t=${t},v1=${webhookReceiptSignature(webhookReceiptKey(key), t, raw)}` },
      rawBody: Buffer.from(raw),
    };
  }

  function rejection(request: ReceiptRequest): ReceiptRejected {
    try {
      parser.parse(request);
    } catch (error) {
      if (error instanceof ReceiptRejected) return error;
      throw error;
    }
    throw new Error('the receipt was taken');
  }

  it('reads one receipt, or an array of them, signed as our requests are', () => {
    expect(parser.parse(signed({ id: '312345678901234567', status: 'delivered' }))).toEqual([
      { provider: 'webhook', providerMessageId: '312345678901234567', status: 'delivered' },
    ]);
    expect(
      parser.parse(
        signed([
          { id: 'a1', status: 'undelivered', errorCode: 'EC_42', at: '2026-12-01T11:59:30Z' },
          { id: 'a2', status: 'sent' },
        ]),
      ),
    ).toEqual([
      {
        provider: 'webhook',
        providerMessageId: 'a1',
        status: 'undelivered',
        errorCode: 'EC_42',
        at: new Date('2026-12-01T11:59:30Z'),
      },
      { provider: 'webhook', providerMessageId: 'a2', status: 'sent' },
    ]);
  });

  it('refuses a missing, malformed or wrong signature (401)', () => {
    const good = signed({ id: 'a1', status: 'delivered' });
    expect(rejection({ ...good, headers: {} })).toMatchObject({ status: 401 });
    expect(rejection({ ...good, headers: { 'zitadel-signature': 'v1=abc' } })).toMatchObject({ status: 401 });
    expect(rejection(signed({ id: 'a1', status: 'delivered' }, now(), 'x'.repeat(40)))).toMatchObject({ status: 401 });
    expect(rejection({ ...good, rawBody: Buffer.from(JSON.stringify({ id: 'a1', status: 'failed' })) })).toMatchObject({
      status: 401,
    });
  });

  it('refuses a request signed with the key itself, as our outgoing messages are: receipts have a key of their own (401)', () => {
    const raw = JSON.stringify({ id: 'a1', status: 'delivered' });
    const t = now();
    const asOurs = { url: URL, headers: { 'zitadel-signature': `t=${t},v1=${webhookSignature(KEY, t, raw)}` } };
    expect(rejection({ ...asOurs, rawBody: Buffer.from(raw) })).toMatchObject({ status: 401 });
  });

  it('derives the receipt key as HMAC-SHA-256(key, "phone-verify sms receipt v1") (docs/sms-providers.md)', () => {
    expect(webhookReceiptKey('0123456789abcdef0123456789abcdef').toString('hex')).toBe(EXAMPLE_RECEIPT_KEY);
  });

  it('refuses a signature older than 5 minutes, or as far ahead (replays), and takes one within', () => {
    const body = { id: 'a1', status: 'delivered' };
    expect(rejection(signed(body, now() - 301))).toMatchObject({ status: 401 });
    expect(rejection(signed(body, now() + 301))).toMatchObject({ status: 401 });
    expect(parser.parse(signed(body, now() - 299))).toHaveLength(1);
  });

  it.each([
    ['not JSON', '{"id":'],
    ['not an object', '"delivered"'],
    ['an empty array', '[]'],
    ['no id', { status: 'delivered' }],
    ['an id that is not a string', { id: 12, status: 'delivered' }],
    ['an unknown status', { id: 'a1', status: 'lost' }],
    ['a bad error code', { id: 'a1', status: 'failed', errorCode: 'has space' }],
    ['a bad time', { id: 'a1', status: 'failed', at: 'yesterday' }],
    ['too many receipts', Array.from({ length: 101 }, (_, i) => ({ id: `a${i}`, status: 'sent' }))],
  ])('refuses an authentic body with %s (400)', (_what, body) => {
    expect(rejection(signed(body))).toMatchObject({ status: 400 });
  });
});
