import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import { Clock } from '../../common/clock';
import { DeliveryReceipt, DeliveryStatus, ReceiptParser, ReceiptRejected, ReceiptRequest } from './delivery-receipt';
import { isGsm7 } from './gsm7';
import { discardBody, isRetryableStatus, postWithTimeout, statusErrorCode } from './http-delivery';
import { receiptParams, requiredParam } from './receipt-params';
import { parseReportedPrice } from '../spend/money';
import { SmsAccepted, SmsDeliveryError, SmsErrorCode, SmsMessage, SmsSender } from './sms-sender';

/** How Vonage signs requests and receipts (the dashboard's "signature method"). */
export type VonageSignatureMethod = 'md5hash' | 'md5' | 'sha1' | 'sha256' | 'sha512';
export const VONAGE_SIGNATURE_METHODS: readonly VonageSignatureMethod[] = [
  'md5hash',
  'md5',
  'sha1',
  'sha256',
  'sha512',
];

/** The path under SMS_RECEIPTS_BASE_URL where Vonage's delivery receipts arrive. */
export const VONAGE_RECEIPTS_PATH = '/v2/sms/receipts/vonage';

export interface VonageSmsSenderOptions {
  /** https://rest.nexmo.com, or a local fake in tests. */
  baseUrl: string;
  apiKey: string;
  /** Exactly one of `apiSecret` (sent as api_secret) and `signatureSecret` (the request is signed instead). */
  apiSecret?: string;
  signatureSecret?: string;
  signatureMethod: VonageSignatureMethod;
  /** A number of the account (E.164) or an alphanumeric sender id; a message's senderId wins. */
  from: string;
  timeoutMs: number;
  /** Where Vonage sends the delivery receipts of each message; none asked for when unset. */
  callbackUrl?: string;
}

/** Vonage's bounds for `ttl`: 20 s to 7 days, in milliseconds. */
const MIN_TTL_MS = 20_000;
const MAX_TTL_MS = 604_800_000;

/** Statuses after which the same message may get through later: throttling, Vonage's own faults. */
const RETRYABLE_STATUSES = new Set([1, 5, 10]);
/**
 * Statuses no retry can fix: the request (2 missing, 3 invalid parameters, 12 too long, 15 sender,
 * 22 network code, 23 callback URL), the credentials or account (4, 8 barred, 9 out of credit,
 * 11 not enabled for HTTP, 14 bad signature, 32 signature and secret together), or the recipient
 * (6 unroutable, 7 barred, 29 not on a trial account's whitelist, 33 deactivated).
 */
const FINAL_STATUSES = new Set([2, 3, 4, 6, 7, 8, 9, 11, 12, 14, 15, 22, 23, 29, 32, 33]);

/** The metrics' name of a Vonage status: `vonage_<status>` when it is one of the above, else `other`. */
export function vonageErrorCode(status: number): SmsErrorCode {
  return RETRYABLE_STATUSES.has(status) || FINAL_STATUSES.has(status) ? `vonage_${status}` : 'other';
}

/** Whether a refused message is worth sending again; an unknown status counts as a refusal. */
export function isRetryableVonageStatus(status: number): boolean {
  return RETRYABLE_STATUSES.has(status);
}

/**
 * The string Vonage signs: every parameter but `sig`, sorted by name, as `&name=value` with `&` and
 * `=` in values replaced by `_`.
 */
function signedString(params: Record<string, string>): string {
  return Object.keys(params)
    .filter((key) => key !== 'sig')
    .sort()
    .map((key) => `&${key}=${params[key].replace(/[&=]/g, '_')}`)
    .join('');
}

/**
 * Vonage's `sig`: lower-case hex MD5 of the string followed by the secret (md5hash), or the
 * upper-case hex HMAC of the string keyed with the secret (as Vonage's SDKs write them; checks of
 * receipts ignore the case).
 */
export function vonageSignature(params: Record<string, string>, secret: string, method: VonageSignatureMethod): string {
  const text = signedString(params);
  if (method === 'md5hash')
    return createHash('md5')
      .update(text + secret)
      .digest('hex');
  return createHmac(method, secret).update(text).digest('hex').toUpperCase();
}

interface VonageAnswerMessage {
  status?: string;
  'message-id'?: string;
  'error-text'?: string;
}

/**
 * Vonage SMS API: one POST to /sms/json per message. The number goes without its "+", `ttl` is the
 * code's remaining life, `client-ref` the message id. Vonage has no idempotency key: a request that
 * timed out after Vonage took it and is then retried sends twice.
 */
export class VonageSmsSender extends SmsSender {
  readonly name = 'vonage';
  private readonly url: string;

  constructor(
    private readonly options: VonageSmsSenderOptions,
    private readonly clock: Clock,
  ) {
    super();
    if (!options.apiSecret === !options.signatureSecret) {
      throw new Error('VonageSmsSender needs exactly one of apiSecret and signatureSecret');
    }
    this.url = `${options.baseUrl.replace(/\/+$/, '')}/sms/json`;
  }

  async send(message: SmsMessage): Promise<SmsAccepted> {
    const now = this.clock.now().getTime();
    const ttl = Math.min(MAX_TTL_MS, Math.max(MIN_TTL_MS, message.expiresAt.getTime() - now));
    const params: Record<string, string> = {
      api_key: this.options.apiKey,
      // a number goes, like `to`, without its +
      from: (message.senderId ?? this.options.from).replace(/^\+/, ''),
      to: message.to.replace(/^\+/, ''),
      text: message.text,
      ttl: String(ttl),
      'client-ref': message.id,
    };
    if (!isGsm7(message.text)) params.type = 'unicode';
    if (this.options.callbackUrl) params.callback = this.options.callbackUrl;
    if (this.options.apiSecret) {
      params.api_secret = this.options.apiSecret;
    } else {
      params.timestamp = String(Math.floor(now / 1000));
      params.sig = vonageSignature(params, this.options.signatureSecret!, this.options.signatureMethod);
    }
    const response = await postWithTimeout(
      this.name,
      this.url,
      {
        headers: { 'Content-Type': 'application/x-www-form-urlencoded', Accept: 'application/json' },
        body: new URLSearchParams(params).toString(),
      },
      this.options.timeoutMs,
    );
    if (response.status < 200 || response.status >= 300) {
      await discardBody(response);
      throw new SmsDeliveryError(
        `vonage: HTTP ${response.status}`,
        isRetryableStatus(response.status),
        statusErrorCode(response.status),
      );
    }
    const messages = await this.readMessages(response);
    if (messages === undefined || messages.length === 0) {
      // Vonage answered 2xx: it may well have taken the message, and a retry would send it twice
      return { provider: this.name };
    }
    // a long text goes as several parts, one entry each: all must be accepted
    const refused = messages.find((m) => m.status !== '0');
    if (refused) {
      const status = Number(refused.status);
      throw new SmsDeliveryError(
        describe(refused, message.code),
        Number.isInteger(status) && isRetryableVonageStatus(status),
        Number.isInteger(status) ? vonageErrorCode(status) : 'other',
      );
    }
    const id = messages[0]['message-id'];
    return { provider: this.name, providerMessageId: typeof id === 'string' && id ? id : undefined };
  }

  /** The answer's `messages`, or undefined when the body is not the documented one. */
  private async readMessages(response: Response): Promise<VonageAnswerMessage[] | undefined> {
    try {
      const parsed = (await response.json()) as { messages?: unknown };
      return Array.isArray(parsed?.messages)
        ? (parsed.messages.filter((m) => typeof m === 'object' && m !== null) as VonageAnswerMessage[])
        : undefined;
    } catch {
      return undefined;
    }
  }
}

/** An operator-readable reason, with the code masked in case Vonage ever echoes the text. */
function describe(refused: VonageAnswerMessage, code: string): string {
  const parts = [`vonage: status ${String(refused.status).slice(0, 10)}`];
  const text = refused['error-text'];
  if (typeof text === 'string' && text) parts.push((code ? text.split(code).join('***') : text).slice(0, 200));
  return parts.join(', ');
}

export interface VonageReceiptOptions {
  apiKey: string;
  /** Without it every receipt is refused (401): an unsigned receipt could be sent by anyone. */
  signatureSecret?: string;
  signatureMethod: VonageSignatureMethod;
  /** How far a receipt's `timestamp` may be from now (a captured receipt cannot be replayed later). */
  toleranceMs?: number;
}

/**
 * Vonage's DLR error codes: 1 unknown, 2/3 absent subscriber (temporary, permanent), 4 barred by
 * the user, 5 portability, 6 anti-spam, 7 busy, 8 network, 9 illegal number, 10 illegal message,
 * 11 unroutable, 12 unreachable, 13 age restriction, 14 blocked by the carrier, 15 pre-paid
 * funds, 16 gateway quota, 50-54 entity, header, content, consent filters and regulation, 99 general.
 */
const VONAGE_DLR_CODES = new Set([...Array(17).keys(), 50, 51, 52, 53, 54, 99].filter((code) => code > 0).map(String));

const VONAGE_STATUS: Record<string, DeliveryStatus> = {
  accepted: 'sent',
  buffered: 'sent',
  unknown: 'sent',
  delivered: 'delivered',
  expired: 'undelivered',
  failed: 'failed',
  rejected: 'failed',
};

/**
 * Vonage's delivery receipts (DLR), as GET query, form or JSON: checked against the signature
 * secret (`sig` over every other parameter, `timestamp` within five minutes) and the account's
 * api-key, then mapped to the shared statuses.
 */
export class VonageReceiptParser extends ReceiptParser {
  readonly provider = 'vonage';

  /** The metrics' label of a receipt's err-code: `vonage_<code>` for Vonage's documented DLR codes, else `other`. */
  override errorLabel(code: string): string {
    return VONAGE_DLR_CODES.has(code) ? `vonage_${code}` : 'other';
  }

  constructor(
    private readonly options: VonageReceiptOptions,
    private readonly clock: Clock,
  ) {
    super();
  }

  parse(request: ReceiptRequest): DeliveryReceipt[] {
    const secret = this.options.signatureSecret;
    if (!secret) throw new ReceiptRejected('vonage: receipts are refused without VONAGE_SIGNATURE_SECRET', 401);
    const params = receiptParams(this.provider, request);
    const sig = params.sig;
    if (!sig || !/^[0-9a-fA-F]{32,128}$/.test(sig)) throw new ReceiptRejected('vonage: receipt not signed', 401);
    const expected = Buffer.from(vonageSignature(params, secret, this.options.signatureMethod), 'hex');
    const given = Buffer.from(sig, 'hex');
    if (expected.length !== given.length || !timingSafeEqual(expected, given)) {
      throw new ReceiptRejected('vonage: receipt signature does not match', 401);
    }
    const timestamp = Number(params.timestamp);
    const tolerance = this.options.toleranceMs ?? 300_000;
    if (!Number.isInteger(timestamp) || Math.abs(this.clock.now().getTime() - timestamp * 1000) > tolerance) {
      throw new ReceiptRejected('vonage: receipt timestamp missing or too far from now', 401);
    }
    if (params['api-key'] !== undefined && params['api-key'] !== this.options.apiKey) {
      throw new ReceiptRejected('vonage: receipt for another account', 401);
    }
    const providerMessageId = requiredParam(this.provider, params, 'messageId');
    const status = VONAGE_STATUS[requiredParam(this.provider, params, 'status')];
    if (!status) throw new ReceiptRejected('vonage: receipt with an unknown status', 400);
    const receipt: DeliveryReceipt = { provider: this.provider, providerMessageId, status };
    const errorCode = params['err-code'];
    if (errorCode && errorCode !== '0' && /^\d{1,5}$/.test(errorCode)) receipt.errorCode = errorCode;
    const at = sctsDate(params.scts);
    if (at) receipt.at = at;
    // the DLR's price is in the account's currency, which it does not name
    const micros = parseReportedPrice(params.price);
    if (micros !== undefined) receipt.price = { micros };
    return [receipt];
  }
}

/** `scts` (when the carrier reported it) is YYMMDDHHMM in UTC. */
function sctsDate(scts: string | undefined): Date | undefined {
  const match = /^(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})$/.exec(scts ?? '');
  if (!match) return undefined;
  const [year, month, day, hour, minute] = match.slice(1).map(Number);
  const at = new Date(Date.UTC(2000 + year, month - 1, day, hour, minute));
  return at.getUTCMonth() === month - 1 && at.getUTCDate() === day ? at : undefined;
}
