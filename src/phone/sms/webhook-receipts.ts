import { createHmac, timingSafeEqual } from 'node:crypto';
import { Clock } from '../../common/clock';
import {
  DELIVERY_STATUSES,
  DeliveryReceipt,
  DeliveryStatus,
  ReceiptParser,
  ReceiptRejected,
  ReceiptRequest,
} from './delivery-receipt';
import { SIGNATURE_HEADER } from './webhook-sms-sender';

/** How far a receipt's signature time may be from ours (either way): older ones are replays. */
export const WEBHOOK_RECEIPT_MAX_SKEW_MS = 5 * 60_000;
/** One request may report this many messages. */
export const WEBHOOK_RECEIPT_MAX_BATCH = 100;

const ERROR_CODE = /^[A-Za-z0-9_.:-]{1,64}$/;

/** What the receipt key is derived with: the key of one direction is never the other's. */
export const RECEIPT_KEY_LABEL = 'phone-verify sms receipt v1';

/**
 * The key receipts are signed with: HMAC-SHA-256(SMS_WEBHOOK_SIGNING_KEY, RECEIPT_KEY_LABEL), 32
 * raw bytes. Our requests to the gateway are signed with the key itself, so none of them (a
 * message we sent, replayed at our receipt endpoint) passes as a receipt.
 */
export function webhookReceiptKey(signingKey: string): Buffer {
  return createHmac('sha256', signingKey).update(RECEIPT_KEY_LABEL).digest();
}

/** `v1` of a receipt's signature header: hex HMAC-SHA-256 with the receipt key over "<t>.<raw body>". */
export function webhookReceiptSignature(receiptKey: Buffer, timestamp: number, rawBody: string): string {
  return createHmac('sha256', receiptKey).update(`${timestamp}.${rawBody}`).digest('hex');
}

/**
 * The webhook provider's receipts: the operator's gateway POSTs JSON to
 * /v2/sms/receipts/webhook, signed in the form of our requests to it (`ZITADEL-Signature:
 * t=<unix seconds>,v1=<hex HMAC-SHA-256 over "<t>.<raw body>">`), with the receipt key derived
 * from SMS_WEBHOOK_SIGNING_KEY (webhookReceiptKey).
 * The body is one receipt or an array of them:
 * `{ "id": "<the message's id>", "status": "delivered", "errorCode": "…", "at": "<RFC 3339>" }`;
 * `id` is the `id` of the message we POSTed, `errorCode` and `at` are optional.
 */
export class WebhookReceiptParser extends ReceiptParser {
  readonly provider = 'webhook';

  private readonly receiptKey: Buffer;

  constructor(
    signingKey: string,
    private readonly clock: Clock,
  ) {
    super();
    this.receiptKey = webhookReceiptKey(signingKey);
  }

  parse(request: ReceiptRequest): DeliveryReceipt[] {
    const header = request.headers[SIGNATURE_HEADER.toLowerCase()];
    const match = /^t=(\d{1,12}),v1=([0-9a-f]{64})$/.exec(typeof header === 'string' ? header : '');
    if (!match) throw new ReceiptRejected(`no ${SIGNATURE_HEADER} of the form t=<unix>,v1=<hex>`, 401);
    const signedAt = Number(match[1]);
    const raw = request.rawBody.toString('utf8');
    const expected = Buffer.from(webhookReceiptSignature(this.receiptKey, signedAt, raw), 'hex');
    if (!timingSafeEqual(expected, Buffer.from(match[2], 'hex'))) {
      throw new ReceiptRejected(`${SIGNATURE_HEADER} does not match`, 401);
    }
    if (Math.abs(this.clock.now().getTime() - signedAt * 1000) > WEBHOOK_RECEIPT_MAX_SKEW_MS) {
      throw new ReceiptRejected(`${SIGNATURE_HEADER} is older than 5 minutes (or in the future)`, 401);
    }
    let body: unknown;
    try {
      body = JSON.parse(raw);
    } catch {
      throw new ReceiptRejected('the body is not JSON', 400);
    }
    const items = Array.isArray(body) ? body : [body];
    if (items.length === 0 || items.length > WEBHOOK_RECEIPT_MAX_BATCH) {
      throw new ReceiptRejected(`between 1 and ${WEBHOOK_RECEIPT_MAX_BATCH} receipts per request`, 400);
    }
    return items.map((item, i) => this.receipt(item, Array.isArray(body) ? `[${i}].` : ''));
  }

  private receipt(item: unknown, at: string): DeliveryReceipt {
    if (typeof item !== 'object' || item === null || Array.isArray(item)) {
      throw new ReceiptRejected(`${at || 'the body'} must be an object`, 400);
    }
    const { id, status, errorCode, at: when } = item as Record<string, unknown>;
    if (typeof id !== 'string' || !/^[\x21-\x7e]{1,200}$/.test(id)) {
      throw new ReceiptRejected(`${at}id must be the message's id`, 400);
    }
    if (typeof status !== 'string' || !DELIVERY_STATUSES.includes(status as DeliveryStatus)) {
      throw new ReceiptRejected(`${at}status must be one of ${DELIVERY_STATUSES.join(', ')}`, 400);
    }
    const receipt: DeliveryReceipt = {
      provider: this.provider,
      providerMessageId: id,
      status: status as DeliveryStatus,
    };
    if (errorCode !== undefined && errorCode !== null) {
      if (typeof errorCode !== 'string' || !ERROR_CODE.test(errorCode)) {
        throw new ReceiptRejected(`${at}errorCode must be up to 64 letters, digits or _.:-`, 400);
      }
      receipt.errorCode = errorCode;
    }
    if (when !== undefined && when !== null) {
      const time = typeof when === 'string' ? Date.parse(when) : NaN;
      if (!/^\d{4}-\d\d-\d\dT/.test(String(when)) || Number.isNaN(time)) {
        throw new ReceiptRejected(`${at}at must be an RFC 3339 time`, 400);
      }
      receipt.at = new Date(time);
    }
    return receipt;
  }
}
