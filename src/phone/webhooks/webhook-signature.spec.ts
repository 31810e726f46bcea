import { createHmac } from 'node:crypto';
import { checkWebhookSignature, signWebhook } from './webhook-signature';

const SECRET = 's'.repeat(32);
const BODY = '{"id":"1","type":"phone.verified"}';

describe('webhook signature', () => {
  it('is t=<unix>,v1=<hex HMAC-SHA-256 of "<t>.<body>">', () => {
    const expected = createHmac('sha256', SECRET).update(`1700000000.${BODY}`).digest('hex');
    expect(signWebhook(SECRET, 1_700_000_000, BODY)).toBe(`t=1700000000,v1=${expected}`);
  });

  it('checks what it signed within the tolerance', () => {
    const header = signWebhook(SECRET, 1_700_000_000, BODY);
    expect(checkWebhookSignature(SECRET, header, BODY, 1_700_000_299)).toEqual({ ok: true, timestamp: 1_700_000_000 });
  });

  it('refuses a stale or future timestamp', () => {
    const header = signWebhook(SECRET, 1_700_000_000, BODY);
    expect(checkWebhookSignature(SECRET, header, BODY, 1_700_000_301)).toEqual({ ok: false, reason: 'stale' });
    expect(checkWebhookSignature(SECRET, header, BODY, 1_699_999_699)).toEqual({ ok: false, reason: 'stale' });
  });

  it('refuses another body, another secret or another timestamp', () => {
    const header = signWebhook(SECRET, 1_700_000_000, BODY);
    const mismatch = { ok: false, reason: 'mismatch' };
    expect(checkWebhookSignature(SECRET, header, `${BODY} `, 1_700_000_000)).toEqual(mismatch);
    expect(checkWebhookSignature('t'.repeat(32), header, BODY, 1_700_000_000)).toEqual(mismatch);
    expect(checkWebhookSignature(SECRET, header.replace('t=1700000000', 't=1700000001'), BODY, 1_700_000_000)).toEqual(
      mismatch,
    );
  });

  it('refuses a missing or malformed header', () => {
    for (const header of [undefined, '', 'v1=abc', 't=1,v1=xyz', `t=1,v0=${'a'.repeat(64)}`]) {
      expect(checkWebhookSignature(SECRET, header, BODY, 1)).toEqual({ ok: false, reason: 'malformed' });
    }
  });
});
