import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import { Clock } from '../../common/clock';
import { DeliveryReceipt, DeliveryStatus, ReceiptParser, ReceiptRejected, ReceiptRequest } from './delivery-receipt';
import { headerOf } from './receipt-params';
import { CALL_SID } from './twilio-call-sender';
import { TWILIO_SIGNATURE_HEADER, twilioSignature } from './twilio-receipts';
import { CALL_UUID } from './vonage-voice-sender';

const MAX_BODY = 64 * 1024;

/** Equal in constant time; strings of different lengths are simply unequal. */
function sameText(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

const META_STATUS: Record<string, DeliveryStatus> = {
  sent: 'sent',
  delivered: 'delivered',
  read: 'delivered',
  failed: 'failed',
};

/**
 * The delivery errors of Meta's status webhooks the metrics name: 131026 undeliverable, 131047
 * re-engagement, 131049 not delivered to keep engagement healthy, 131050 the user stopped such
 * messages, 131053 media, 130472 experiment, 131000 Meta's own fault, 131048 and 131056 rate limits.
 */
const META_DELIVERY_ERRORS = new Set([
  '131026',
  '131047',
  '131049',
  '131050',
  '131053',
  '130472',
  '131000',
  '131048',
  '131056',
]);

interface MetaStatus {
  id?: unknown;
  status?: unknown;
  timestamp?: unknown;
  errors?: { code?: unknown }[];
}

/**
 * Meta's WhatsApp webhooks: JSON, signed with `X-Hub-Signature-256: sha256=<hex HMAC of the raw
 * body with the app secret>`; each change's `statuses` are receipts (messages and other fields
 * are acknowledged and ignored).
 */
export class MetaReceiptParser extends ReceiptParser {
  readonly provider = 'meta';

  /** Without the app secret every request is refused (401): an unsigned status could come from anyone. */
  constructor(
    private readonly appSecret: string | undefined,
    private readonly verifyToken?: string,
  ) {
    super();
  }

  /**
   * Meta's verification of the callback URL: `hub.mode=subscribe`, the verify token set in the app
   * (META_WEBHOOK_VERIFY_TOKEN) and a `hub.challenge` to echo; any other token is refused.
   */
  override challenge(query: URLSearchParams): string | undefined {
    if (query.get('hub.mode') !== 'subscribe') return undefined;
    const token = query.get('hub.verify_token') ?? '';
    if (!this.verifyToken || !sameText(token, this.verifyToken)) {
      throw new ReceiptRejected('meta: hub.verify_token does not match META_WEBHOOK_VERIFY_TOKEN', 401);
    }
    const challenge = query.get('hub.challenge') ?? '';
    if (!/^[A-Za-z0-9_-]{1,128}$/.test(challenge))
      throw new ReceiptRejected('meta: hub.challenge missing or not a token', 400);
    return challenge;
  }

  override errorLabel(code: string): string {
    return META_DELIVERY_ERRORS.has(code) ? `meta_${code}` : 'other';
  }

  parse(request: ReceiptRequest): DeliveryReceipt[] {
    if (!this.appSecret) throw new ReceiptRejected('meta: webhooks are refused without META_APP_SECRET', 401);
    if (request.rawBody.length > MAX_BODY) throw new ReceiptRejected('meta: webhook too large', 400);
    const header = headerOf(request, 'x-hub-signature-256') ?? '';
    const expected = `sha256=${createHmac('sha256', this.appSecret).update(request.rawBody).digest('hex')}`;
    if (!sameText(header.toLowerCase(), expected))
      throw new ReceiptRejected('meta: X-Hub-Signature-256 does not match', 401);
    let body: { entry?: { changes?: { field?: unknown; value?: { statuses?: MetaStatus[] } }[] }[] };
    try {
      body = JSON.parse(request.rawBody.toString('utf8')) as typeof body;
    } catch {
      throw new ReceiptRejected('meta: webhook body is not JSON', 400);
    }
    const statuses = (Array.isArray(body?.entry) ? body.entry : [])
      .flatMap((entry) => (Array.isArray(entry?.changes) ? entry.changes : []))
      .filter((change) => change?.field === 'messages')
      .flatMap((change) => (Array.isArray(change.value?.statuses) ? change.value.statuses : []));
    return statuses.flatMap((reported) => this.receiptOf(reported));
  }

  private receiptOf(reported: MetaStatus): DeliveryReceipt[] {
    const status = typeof reported.status === 'string' ? META_STATUS[reported.status] : undefined;
    if (!status) return []; // deleted, warning, or a new status: no receipt of ours
    if (typeof reported.id !== 'string' || !/^\S{1,200}$/.test(reported.id)) {
      throw new ReceiptRejected('meta: a status without a message id', 400);
    }
    const receipt: DeliveryReceipt = { provider: this.provider, providerMessageId: reported.id, status };
    const code = Array.isArray(reported.errors) ? reported.errors[0]?.code : undefined;
    if (typeof code === 'number' && Number.isInteger(code)) receipt.errorCode = String(code);
    const seconds = Number(reported.timestamp);
    if (Number.isInteger(seconds) && seconds > 0) receipt.at = new Date(seconds * 1000);
    return [receipt];
  }
}

/**
 * A call's final status as a receipt: answered and played (`completed`) is delivered; busy, not
 * answered or cancelled is undelivered (another channel may reach the user); `failed` is failed.
 */
const TWILIO_CALL_STATUS: Record<string, DeliveryStatus> = {
  queued: 'queued',
  initiated: 'queued',
  ringing: 'queued',
  'in-progress': 'sent',
  completed: 'delivered',
  busy: 'undelivered',
  'no-answer': 'undelivered',
  canceled: 'undelivered',
  failed: 'failed',
};

/** Twilio's call status callbacks: form-encoded, signed with X-Twilio-Signature as message callbacks are. */
export class TwilioCallReceiptParser extends ReceiptParser {
  readonly provider = 'twilio-voice';

  constructor(private readonly authToken: string) {
    super();
  }

  parse(request: ReceiptRequest): DeliveryReceipt[] {
    const header = request.headers[TWILIO_SIGNATURE_HEADER];
    if (typeof header !== 'string' || header === '') throw new ReceiptRejected('no X-Twilio-Signature', 401);
    const params = new URLSearchParams(request.rawBody.toString('utf8'));
    if (!sameText(header, twilioSignature(this.authToken, request.url, params))) {
      throw new ReceiptRejected('X-Twilio-Signature does not match', 401);
    }
    const sid = params.get('CallSid');
    if (!sid || !CALL_SID.test(sid)) throw new ReceiptRejected('CallSid is missing or not a Call SID', 400);
    const status = TWILIO_CALL_STATUS[params.get('CallStatus') ?? ''];
    if (!status) throw new ReceiptRejected('CallStatus is missing or unknown', 400);
    const receipt: DeliveryReceipt = { provider: this.provider, providerMessageId: sid, status };
    const errorCode = params.get('ErrorCode');
    if (errorCode && /^\d{1,10}$/.test(errorCode) && errorCode !== '0') receipt.errorCode = errorCode;
    return [receipt];
  }
}

/**
 * Vonage's call events. `completed` counts as delivered only with a duration: a call that was
 * never answered ends as unanswered, busy, timeout, rejected or cancelled (undelivered) or failed.
 */
const VONAGE_CALL_STATUS: Record<string, DeliveryStatus> = {
  started: 'queued',
  ringing: 'queued',
  answered: 'sent',
  busy: 'undelivered',
  timeout: 'undelivered',
  unanswered: 'undelivered',
  rejected: 'undelivered',
  cancelled: 'undelivered',
  failed: 'failed',
};

const base64url = (data: Buffer) => data.toString('base64url');

/**
 * Vonage's signed voice webhooks: `Authorization: Bearer <JWT>`, HS256 with the account's
 * signature secret, whose `payload_hash` is the SHA-256 of the body; events without a call's
 * status (transfers, inputs) are acknowledged and ignored.
 */
export class VonageVoiceReceiptParser extends ReceiptParser {
  readonly provider = 'vonage-voice';

  constructor(
    private readonly signatureSecret: string | undefined,
    private readonly clock: Clock,
    private readonly toleranceMs = 300_000,
  ) {
    super();
  }

  parse(request: ReceiptRequest): DeliveryReceipt[] {
    if (!this.signatureSecret) {
      throw new ReceiptRejected('vonage-voice: events are refused without VONAGE_SIGNATURE_SECRET', 401);
    }
    if (request.rawBody.length > MAX_BODY) throw new ReceiptRejected('vonage-voice: event too large', 400);
    this.checkToken(headerOf(request, 'authorization') ?? '', request.rawBody);
    let event: Record<string, unknown>;
    try {
      event = JSON.parse(request.rawBody.toString('utf8')) as Record<string, unknown>;
    } catch {
      throw new ReceiptRejected('vonage-voice: event body is not JSON', 400);
    }
    const reported = typeof event?.status === 'string' ? event.status : undefined;
    const status =
      reported === 'completed'
        ? Number(event.duration) > 0
          ? 'delivered'
          : undefined
        : VONAGE_CALL_STATUS[reported ?? ''];
    if (!status) return [];
    if (typeof event.uuid !== 'string' || !CALL_UUID.test(event.uuid)) {
      throw new ReceiptRejected('vonage-voice: event without a call uuid', 400);
    }
    const receipt: DeliveryReceipt = { provider: this.provider, providerMessageId: event.uuid, status };
    const at = typeof event.timestamp === 'string' ? new Date(event.timestamp) : undefined;
    if (at && !Number.isNaN(at.getTime())) receipt.at = at;
    return [receipt];
  }

  private checkToken(authorization: string, body: Buffer): void {
    const match = /^Bearer ([A-Za-z0-9_-]+)\.([A-Za-z0-9_-]+)\.([A-Za-z0-9_-]+)$/.exec(authorization);
    if (!match) throw new ReceiptRejected('vonage-voice: event not signed', 401);
    const [, header, payload, signature] = match;
    const expected = base64url(createHmac('sha256', this.signatureSecret!).update(`${header}.${payload}`).digest());
    if (!sameText(signature, expected)) throw new ReceiptRejected('vonage-voice: event signature does not match', 401);
    let claims: { alg?: unknown; iat?: unknown; payload_hash?: unknown };
    try {
      const alg = (JSON.parse(Buffer.from(header, 'base64url').toString('utf8')) as { alg?: unknown }).alg;
      claims = { ...(JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as object), alg };
    } catch {
      throw new ReceiptRejected('vonage-voice: event token cannot be read', 401);
    }
    if (claims.alg !== 'HS256') throw new ReceiptRejected('vonage-voice: event token is not HS256', 401);
    const iat = Number(claims.iat);
    if (!Number.isFinite(iat) || Math.abs(this.clock.now().getTime() - iat * 1000) > this.toleranceMs) {
      throw new ReceiptRejected('vonage-voice: event token issued too far from now', 401);
    }
    const hash = createHash('sha256').update(body).digest('hex');
    if (typeof claims.payload_hash !== 'string' || !sameText(claims.payload_hash.toLowerCase(), hash)) {
      throw new ReceiptRejected('vonage-voice: payload_hash does not match the body', 401);
    }
  }
}
