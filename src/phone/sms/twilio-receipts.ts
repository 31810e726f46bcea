import { createHmac, timingSafeEqual } from 'node:crypto';
import { parseReportedPrice } from '../spend/money';
import { DeliveryReceipt, DeliveryStatus, ReceiptParser, ReceiptRejected, ReceiptRequest } from './delivery-receipt';

export const TWILIO_SIGNATURE_HEADER = 'x-twilio-signature';

/**
 * Twilio's request signature: base64 HMAC-SHA1 with the auth token over the full URL Twilio called
 * followed by each POST parameter, sorted by name, as name and value with no separator.
 */
export function twilioSignature(authToken: string, url: string, params: URLSearchParams): string {
  const sorted = [...params.entries()].sort(([a, x], [b, y]) => (a < b ? -1 : a > b ? 1 : x < y ? -1 : x > y ? 1 : 0));
  const data = url + sorted.map(([name, value]) => name + value).join('');
  return createHmac('sha1', authToken).update(data, 'utf8').digest('base64');
}

/** Twilio's message statuses, in ours; the inbound ones (receiving, received) and any new one are not receipts. */
const STATUS_OF: Record<string, DeliveryStatus> = {
  accepted: 'queued',
  scheduled: 'queued',
  queued: 'queued',
  sending: 'queued',
  sent: 'sent',
  delivered: 'delivered',
  read: 'delivered',
  undelivered: 'undelivered',
  failed: 'failed',
  canceled: 'failed',
};

/**
 * The error codes of undelivered and failed messages the metrics name (Twilio's 30001-30010
 * delivery errors, 30034 unregistered A2P traffic, 30044 expired ValidityPeriod, and the opt-out
 * and unreachable-recipient codes); any other is `other`.
 */
const KNOWN_ERRORS = new Set([
  '30001', '30002', '30003', '30004', '30005', '30006', '30007', '30008', '30009', '30010', '30034', '30044',
  '21610', '21612', '21614',
]); // prettier-ignore

const MESSAGE_SID = /^[SM]M[0-9a-fA-F]{32}$/;

/** Twilio's status callbacks (StatusCallback): form-encoded, signed with X-Twilio-Signature. */
export class TwilioReceiptParser extends ReceiptParser {
  /** `twilio`, or `twilio-whatsapp` for the WhatsApp sender's messages (the same callbacks) */
  constructor(
    private readonly authToken: string,
    readonly provider: string = 'twilio',
  ) {
    super();
  }

  parse(request: ReceiptRequest): DeliveryReceipt[] {
    const header = request.headers[TWILIO_SIGNATURE_HEADER];
    if (typeof header !== 'string' || header === '') throw new ReceiptRejected('no X-Twilio-Signature', 401);
    const params = new URLSearchParams(request.rawBody.toString('utf8'));
    const expected = Buffer.from(twilioSignature(this.authToken, request.url, params));
    const given = Buffer.from(header);
    if (expected.length !== given.length || !timingSafeEqual(expected, given)) {
      throw new ReceiptRejected('X-Twilio-Signature does not match', 401);
    }
    const sid = params.get('MessageSid') ?? params.get('SmsSid');
    if (!sid || !MESSAGE_SID.test(sid)) throw new ReceiptRejected('MessageSid is missing or not a Message SID', 400);
    const reported = params.get('MessageStatus') ?? params.get('SmsStatus');
    if (!reported) throw new ReceiptRejected('MessageStatus is missing', 400);
    const status = STATUS_OF[reported];
    if (!status) return []; // a status that is no receipt of ours: acknowledged, nothing changes
    const errorCode = params.get('ErrorCode') ?? undefined;
    const receipt: DeliveryReceipt = { provider: this.provider, providerMessageId: sid, status };
    if (errorCode && /^\d{1,10}$/.test(errorCode) && errorCode !== '0') receipt.errorCode = errorCode;
    // the callback seldom carries the price (the Message resource has it once billed): taken when it does
    const micros = parseReportedPrice(params.get('Price') ?? undefined);
    const unit = params.get('PriceUnit');
    if (micros !== undefined) receipt.price = { micros, currency: unit && /^[A-Z]{3}$/.test(unit) ? unit : undefined };
    return [receipt];
  }

  override errorLabel(code: string): string {
    return KNOWN_ERRORS.has(code) ? code : 'other';
  }
}
