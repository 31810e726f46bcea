import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import { Clock } from '../../common/clock';
import { DeliveryReceipt, DeliveryStatus, ReceiptParser, ReceiptRejected, ReceiptRequest } from './delivery-receipt';
import { isGsm7 } from './gsm7';
import { isRetryableStatus, postWithTimeout, statusErrorCode } from './http-delivery';
import { headerOf, receiptParams, requiredParam } from './receipt-params';
import { SmsAccepted, SmsDeliveryError, SmsErrorCode, SmsMessage, SmsSender } from './sms-sender';

/** The path under SMS_RECEIPTS_BASE_URL where MessageBird's status reports arrive. */
export const MESSAGEBIRD_RECEIPTS_PATH = '/v2/sms/receipts/messagebird';
export const MESSAGEBIRD_SIGNATURE_HEADER = 'MessageBird-Signature-JWT';

export interface MessageBirdSmsSenderOptions {
  /** https://rest.messagebird.com, or a local fake in tests. */
  baseUrl: string;
  accessKey: string;
  /** A number (E.164) or an alphanumeric sender id; a message's senderId wins. */
  originator: string;
  timeoutMs: number;
  /** Where MessageBird sends the status reports of each message; none asked for when unset. */
  reportUrl?: string;
}

/** Only MessageBird's internal error may pass later. */
const RETRYABLE_CODES = new Set([99]);
/**
 * Codes no retry can fix: 2 request not allowed (the access key), 9 missing and 10 invalid
 * parameters, 20 not found, 21 bad request, 25 not enough balance, 98 API not found.
 */
const FINAL_CODES = new Set([2, 9, 10, 20, 21, 25, 98]);

/** The metrics' name of a failure: `messagebird_<code>` for the codes above, else the HTTP status class. */
export function messageBirdErrorCode(httpStatus: number, code: number | undefined): SmsErrorCode {
  if (code !== undefined && (RETRYABLE_CODES.has(code) || FINAL_CODES.has(code))) return `messagebird_${code}`;
  return statusErrorCode(httpStatus);
}

/** A known code decides before the HTTP status. */
export function isRetryableMessageBirdFailure(httpStatus: number, code: number | undefined): boolean {
  if (code !== undefined && RETRYABLE_CODES.has(code)) return true;
  if (code !== undefined && FINAL_CODES.has(code)) return false;
  return isRetryableStatus(httpStatus);
}

interface MessageBirdError {
  code?: unknown;
  description?: unknown;
  parameter?: unknown;
}

/**
 * MessageBird (Bird) SMS: one POST /messages per text, `validity` the code's remaining life in
 * seconds, `reference` the message id (status reports are only sent with one). MessageBird has no
 * idempotency key: a request that timed out after it was taken and is then retried sends twice.
 */
export class MessageBirdSmsSender extends SmsSender {
  readonly name = 'messagebird';
  private readonly url: string;

  constructor(
    private readonly options: MessageBirdSmsSenderOptions,
    private readonly clock: Clock,
  ) {
    super();
    this.url = `${options.baseUrl.replace(/\/+$/, '')}/messages`;
  }

  async send(message: SmsMessage): Promise<SmsAccepted> {
    const validity = Math.max(1, Math.floor((message.expiresAt.getTime() - this.clock.now().getTime()) / 1000));
    const body: Record<string, unknown> = {
      // a number goes, like the recipient, without its +
      originator: (message.senderId ?? this.options.originator).replace(/^\+/, ''),
      recipients: [message.to.replace(/^\+/, '')],
      body: message.text,
      validity,
      reference: message.id,
    };
    if (!isGsm7(message.text)) body.datacoding = 'unicode';
    if (this.options.reportUrl) body.reportUrl = this.options.reportUrl;
    const response = await postWithTimeout(
      this.name,
      this.url,
      {
        headers: {
          Authorization: `AccessKey ${this.options.accessKey}`,
          'Content-Type': 'application/json',
          Accept: 'application/json',
        },
        body: JSON.stringify(body),
      },
      this.options.timeoutMs,
    );
    if (response.status >= 200 && response.status < 300) {
      const id = await this.readId(response);
      return { provider: this.name, providerMessageId: id };
    }
    const error = await this.readError(response);
    const code = typeof error.code === 'number' ? error.code : undefined;
    throw new SmsDeliveryError(
      describe(response.status, error, message.code),
      isRetryableMessageBirdFailure(response.status, code),
      messageBirdErrorCode(response.status, code),
    );
  }

  /** The created message's id; undefined when the body is not readable (it was accepted all the same). */
  private async readId(response: Response): Promise<string | undefined> {
    try {
      const parsed = (await response.json()) as { id?: unknown };
      return typeof parsed?.id === 'string' && parsed.id.length > 0 && parsed.id.length <= 100 ? parsed.id : undefined;
    } catch {
      return undefined;
    }
  }

  /** The first entry of the answer's `errors`, or {}. */
  private async readError(response: Response): Promise<MessageBirdError> {
    try {
      const parsed = (await response.json()) as { errors?: unknown };
      const first: unknown = Array.isArray(parsed?.errors) ? parsed.errors[0] : undefined;
      return typeof first === 'object' && first !== null ? (first as MessageBirdError) : {};
    } catch {
      return {};
    }
  }
}

/** An operator-readable reason; the code is masked in case MessageBird ever echoes the body. */
function describe(status: number, error: MessageBirdError, code: string): string {
  const parts = [`messagebird: HTTP ${status}`];
  if (typeof error.code === 'number') parts.push(`code ${error.code}`);
  for (const text of [error.description, error.parameter]) {
    if (typeof text === 'string' && text) parts.push((code ? text.split(code).join('***') : text).slice(0, 200));
  }
  return parts.join(', ');
}

export interface MessageBirdReceiptOptions {
  /** Without it every status report is refused (401): an unsigned one could be sent by anyone. */
  signingKey?: string;
  /** Leeway for the token's times (iat, nbf, exp). */
  clockToleranceMs?: number;
}

const MESSAGEBIRD_STATUS: Record<string, DeliveryStatus> = {
  scheduled: 'queued',
  sent: 'sent',
  buffered: 'sent',
  delivered: 'delivered',
  expired: 'undelivered',
  delivery_failed: 'failed',
};

const HMAC_OF: Record<string, string> = { HS256: 'sha256', HS384: 'sha384', HS512: 'sha512' };

const sha256 = (data: string | Buffer) => createHash('sha256').update(data).digest();

/**
 * MessageBird's status reports (GET to the reportUrl, or POST), checked by the
 * MessageBird-Signature-JWT header: an HMAC-signed JWT (HS256/384/512 with the signing key) from
 * issuer "MessageBird", within its validity times, with a jti, whose url_hash is the SHA-256 of the
 * URL called and whose payload_hash is the SHA-256 of the body (required when there is one).
 */
export class MessageBirdReceiptParser extends ReceiptParser {
  readonly provider = 'messagebird';

  /**
   * The metrics' label of a report's statusErrorCode: MessageBird passes on the network's GSM
   * error (one byte), so `messagebird_<0-255>`, else `other`.
   */
  override errorLabel(code: string): string {
    return /^\d{1,3}$/.test(code) && Number(code) <= 255 ? `messagebird_${Number(code)}` : 'other';
  }

  constructor(
    private readonly options: MessageBirdReceiptOptions,
    private readonly clock: Clock,
  ) {
    super();
  }

  parse(request: ReceiptRequest): DeliveryReceipt[] {
    if (!this.options.signingKey) {
      throw new ReceiptRejected('messagebird: status reports are refused without MESSAGEBIRD_SIGNING_KEY', 401);
    }
    this.verify(request, this.options.signingKey);
    const params = receiptParams(this.provider, request);
    const providerMessageId = requiredParam(this.provider, params, 'id');
    const status = MESSAGEBIRD_STATUS[requiredParam(this.provider, params, 'status')];
    if (!status) throw new ReceiptRejected('messagebird: status report with an unknown status', 400);
    const receipt: DeliveryReceipt = { provider: this.provider, providerMessageId, status };
    const errorCode = params.statusErrorCode;
    if (errorCode && /^\d{1,6}$/.test(errorCode)) receipt.errorCode = errorCode;
    const at = params.statusDatetime ? new Date(params.statusDatetime) : undefined;
    if (at && !Number.isNaN(at.getTime())) receipt.at = at;
    return [receipt];
  }

  private verify(request: ReceiptRequest, key: string): void {
    const reject = (why: string) => new ReceiptRejected(`messagebird: ${why}`, 401);
    const jwt = headerOf(request, MESSAGEBIRD_SIGNATURE_HEADER);
    if (!jwt) throw reject(`no ${MESSAGEBIRD_SIGNATURE_HEADER} header`);
    const parts = jwt.split('.');
    if (parts.length !== 3 || jwt.length > 4096) throw reject('signature is not a JWT');
    const [head, body, signature] = parts;
    const header = decodePart(head);
    const algorithm = typeof header?.alg === 'string' ? HMAC_OF[header.alg] : undefined;
    if (!algorithm) throw reject('signature is not an HS256/384/512 JWT');
    const expected = createHmac(algorithm, key).update(`${head}.${body}`).digest();
    const given = Buffer.from(signature, 'base64url');
    if (expected.length !== given.length || !timingSafeEqual(expected, given)) throw reject('signature does not match');

    const claims = decodePart(body);
    if (!claims) throw reject('signature claims cannot be read');
    if (claims.iss !== 'MessageBird') throw reject('signature not issued by MessageBird');
    const now = this.clock.now().getTime() / 1000;
    const leeway = (this.options.clockToleranceMs ?? 5_000) / 1000;
    const time = (name: string) => (typeof claims[name] === 'number' ? (claims[name] as number) : undefined);
    const [exp, nbf, iat] = [time('exp'), time('nbf'), time('iat')];
    if (exp === undefined || now > exp + leeway) throw reject('signature expired');
    if ((nbf !== undefined && now < nbf - leeway) || (iat !== undefined && now < iat - leeway)) {
      throw reject('signature not yet valid');
    }
    if (typeof claims.jti !== 'string' || claims.jti === '') throw reject('signature without jti');
    if (!hashMatches(claims.url_hash, sha256(request.url))) throw reject('signature is for another URL');
    if (claims.payload_hash !== undefined || request.rawBody.length > 0) {
      if (!hashMatches(claims.payload_hash, sha256(request.rawBody))) throw reject('signature is for another body');
    }
  }
}

/** A JWT part decoded as a JSON object, or undefined. */
function decodePart(part: string): Record<string, unknown> | undefined {
  try {
    const parsed: unknown = JSON.parse(Buffer.from(part, 'base64url').toString('utf8'));
    return typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed)
      ? (parsed as Record<string, unknown>)
      : undefined;
  } catch {
    return undefined;
  }
}

/** Whether a hex claim is the given SHA-256, compared in constant time. */
function hashMatches(claim: unknown, digest: Buffer): boolean {
  if (typeof claim !== 'string' || !/^[0-9a-fA-F]{64}$/.test(claim)) return false;
  return timingSafeEqual(Buffer.from(claim, 'hex'), digest);
}
