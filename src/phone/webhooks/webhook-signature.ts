import { createHmac, timingSafeEqual } from 'node:crypto';

/**
 * The header every webhook carries: `t=<unix seconds>,v1=<hex HMAC-SHA-256(secret, "<t>.<raw body>")>`,
 * the form of ZITADEL's Actions v2 and of our SMS webhook, so one receiver's code checks both.
 */
export const WEBHOOK_SIGNATURE_HEADER = 'ZITADEL-Signature';

export function webhookHmac(secret: string, timestamp: number, rawBody: string): string {
  return createHmac('sha256', secret).update(`${timestamp}.${rawBody}`).digest('hex');
}

export function signWebhook(secret: string, timestamp: number, rawBody: string): string {
  return `t=${timestamp},v1=${webhookHmac(secret, timestamp, rawBody)}`;
}

export type SignatureCheck =
  { ok: true; timestamp: number } | { ok: false; reason: 'malformed' | 'stale' | 'mismatch' };

/**
 * What a receiver does with the header: the form, the age of its timestamp (at most `toleranceSeconds`
 * either way: a replayed request is refused), then the MAC compared in constant time.
 */
export function checkWebhookSignature(
  secret: string,
  header: string | undefined,
  rawBody: string,
  nowSeconds: number,
  toleranceSeconds = 300,
): SignatureCheck {
  const match = /^t=(\d{1,12}),v1=([0-9a-f]{64})$/.exec(header ?? '');
  if (!match) return { ok: false, reason: 'malformed' };
  const timestamp = Number(match[1]);
  if (Math.abs(nowSeconds - timestamp) > toleranceSeconds) return { ok: false, reason: 'stale' };
  const expected = Buffer.from(webhookHmac(secret, timestamp, rawBody), 'hex');
  const given = Buffer.from(match[2], 'hex');
  return timingSafeEqual(expected, given) ? { ok: true, timestamp } : { ok: false, reason: 'mismatch' };
}
