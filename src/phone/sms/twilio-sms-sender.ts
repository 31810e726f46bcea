import { Clock } from '../../common/clock';
import { forLanguage, LanguageMap } from './channel-texts';
import { discardBody, isRetryableStatus, postWithTimeout, statusErrorCode } from './http-delivery';
import { SmsAccepted, SmsDeliveryError, SmsErrorCode, SmsMessage, SmsSender } from './sms-sender';

export interface TwilioSmsSenderOptions {
  /** https://api.twilio.com, or a local fake in tests. */
  baseUrl: string;
  accountSid: string;
  authToken: string;
  /** Exactly one of `from` (a number or alphanumeric sender id) and `messagingServiceSid`. */
  from?: string;
  messagingServiceSid?: string;
  timeoutMs: number;
  /** Where Twilio posts the message's status changes (StatusCallback); none requested when unset. */
  statusCallbackUrl?: string;
  /** The sender's name (metrics, receipts): `twilio`, or `twilio-whatsapp` for the WhatsApp sender. */
  name?: string;
  /**
   * Sends by WhatsApp (`whatsapp:` addresses, from `from`): an approved template per language whose
   * variable 1 is the code (ContentSid, ContentVariables), or the text as the body when none is set.
   */
  whatsapp?: TwilioWhatsAppOptions;
}

export interface TwilioWhatsAppOptions {
  /** an approved template per language; without one, the text goes as the body */
  contentSids?: LanguageMap;
  /** the body for a message that comes without a text (the workflow renders none for WhatsApp) */
  text?: (message: SmsMessage) => string;
}

/** Twilio's bounds of ValidityPeriod, in seconds. */
export const TWILIO_MAX_VALIDITY = 36_000;

/**
 * The ValidityPeriod of a message whose code dies at `expiresAt`: its remaining life in whole
 * seconds, at most Twilio's 36,000; undefined when under a second is left (the outbox sends no
 * such message, so this only happens in a test).
 */
export function validityPeriod(expiresAt: Date, now: Date): number | undefined {
  const seconds = Math.floor((expiresAt.getTime() - now.getTime()) / 1000);
  return seconds < 1 ? undefined : Math.min(seconds, TWILIO_MAX_VALIDITY);
}

/** A Message resource's id: "SM" or "MM" and 32 hex digits. */
const MESSAGE_SID = /^[SM]M[0-9a-fA-F]{32}$/;

/**
 * Twilio error codes that say "later may work": rate limits, queue overflow, Twilio's own outages,
 * WhatsApp's rate limit (63018).
 */
const RETRYABLE_CODES = new Set([20429, 30001, 20500, 20503, 63018]);
/**
 * Codes that no retry can fix: a bad or unreachable recipient (21211, 21408, 21606, 21612, 21614),
 * an opt-out (21610), or our credentials/account (20003, 20404); for calls a bad or unverified
 * caller id (21210, 21212), a callee that cannot be reached, is blocked or is no number (21214,
 * 21215 geographic permissions, 21216, 21217); for WhatsApp no such recipient or sender (63003,
 * 63007) and a message outside the session window that needs a template (63016).
 */
const FINAL_CODES = new Set([
  21211, 21408, 21606, 21610, 21612, 21614, 20003, 20404, 21210, 21212, 21214, 21215, 21216, 21217, 63003, 63007, 63016,
]);

/** The metrics' name of a failure: Twilio's code when it is one of those above, else the status class. */
export function twilioErrorCode(httpStatus: number, code: number | undefined): SmsErrorCode {
  if (code !== undefined && (RETRYABLE_CODES.has(code) || FINAL_CODES.has(code))) return `twilio_${code}`;
  return statusErrorCode(httpStatus);
}

/** What Twilio's REST API returns with a failed request. */
interface TwilioError {
  code?: number;
  message?: string;
  more_info?: string;
  status?: number;
}

/** Whether a failed Messages request is worth repeating: Twilio's code first, then the HTTP status. */
export function isRetryableTwilioFailure(httpStatus: number, code: number | undefined): boolean {
  if (code !== undefined && RETRYABLE_CODES.has(code)) return true;
  if (code !== undefined && FINAL_CODES.has(code)) return false;
  return isRetryableStatus(httpStatus);
}

/**
 * Twilio Programmable Messaging: one Messages resource per text. Twilio has no idempotency key for
 * it, so a request that timed out after Twilio accepted it and is then retried sends twice.
 */
export class TwilioSmsSender extends SmsSender {
  readonly name: string;
  private readonly url: string;
  private readonly authorization: string;

  constructor(
    private readonly options: TwilioSmsSenderOptions,
    private readonly clock: Clock = new Clock(),
  ) {
    super();
    this.name = options.name ?? 'twilio';
    if (options.whatsapp && !options.from) throw new Error('TwilioSmsSender needs from for WhatsApp');
    if (!options.whatsapp && !options.from === !options.messagingServiceSid) {
      throw new Error('TwilioSmsSender needs exactly one of from and messagingServiceSid');
    }
    const base = options.baseUrl.replace(/\/+$/, '');
    this.url = `${base}/2010-04-01/Accounts/${encodeURIComponent(options.accountSid)}/Messages.json`;
    this.authorization = `Basic ${Buffer.from(`${options.accountSid}:${options.authToken}`).toString('base64')}`;
  }

  async send(message: SmsMessage): Promise<SmsAccepted> {
    const form = this.options.whatsapp ? this.whatsappForm(message, this.options.whatsapp) : this.smsForm(message);
    const validity = validityPeriod(message.expiresAt, this.clock.now());
    if (validity !== undefined) form.set('ValidityPeriod', String(validity));
    if (this.options.statusCallbackUrl) form.set('StatusCallback', this.options.statusCallbackUrl);
    const response = await postWithTimeout(
      this.name,
      this.url,
      {
        headers: {
          Authorization: this.authorization,
          'Content-Type': 'application/x-www-form-urlencoded',
          Accept: 'application/json',
        },
        body: form.toString(),
      },
      this.options.timeoutMs,
    );
    if (response.status >= 200 && response.status < 300) {
      // accepted: a slow or broken body must not turn this into a retry (and a second text), so a
      // body that cannot be read within the timeout only costs the message id (and its receipts)
      const sid = await this.readSid(response);
      return sid ? { provider: this.name, providerMessageId: sid } : { provider: this.name };
    }
    throw await twilioFailure(response, message.code);
  }

  private smsForm(message: SmsMessage): URLSearchParams {
    const form = new URLSearchParams({ To: message.to, Body: message.text });
    if (this.options.messagingServiceSid) form.set('MessagingServiceSid', this.options.messagingServiceSid);
    // the country's sender id (SMS_SENDER_IDS) wins; with a messaging service it must be one of the service's senders
    const from = message.senderId ?? this.options.from;
    if (from) form.set('From', from);
    return form;
  }

  /** A WhatsApp sender is a number of its own: a country's SMS sender id does not apply. */
  private whatsappForm(message: SmsMessage, whatsapp: TwilioWhatsAppOptions): URLSearchParams {
    const form = new URLSearchParams({ To: `whatsapp:${message.to}`, From: `whatsapp:${this.options.from}` });
    const contentSid = whatsapp.contentSids && forLanguage(whatsapp.contentSids, message.language);
    if (contentSid) {
      form.set('ContentSid', contentSid);
      form.set('ContentVariables', JSON.stringify({ 1: message.code }));
    } else {
      form.set('Body', message.text || (whatsapp.text?.(message) ?? ''));
    }
    return form;
  }

  /**
   * The `sid` of an accepted Message, or undefined when the body is not a Message: reading it
   * stays under the request's deadline (its abort signal covers the body too).
   */
  private async readSid(response: Response): Promise<string | undefined> {
    try {
      const parsed: unknown = JSON.parse(await response.text());
      const sid = (parsed as { sid?: unknown } | null)?.sid;
      return typeof sid === 'string' && MESSAGE_SID.test(sid) ? sid : undefined;
    } catch {
      await discardBody(response);
      return undefined;
    }
  }
}

/** The SmsDeliveryError of a request Twilio refused: its code first, then the HTTP status, says whether to retry. */
export async function twilioFailure(response: Response, code: string): Promise<SmsDeliveryError> {
  const error = await readError(response);
  const twilioCode = typeof error.code === 'number' ? error.code : undefined;
  return new SmsDeliveryError(
    describe(response.status, error, code),
    isRetryableTwilioFailure(response.status, twilioCode),
    twilioErrorCode(response.status, twilioCode),
  );
}

/** The error document of a failed request ({} when the body is not one). */
async function readError(response: Response): Promise<TwilioError> {
  let text: string;
  try {
    text = await response.text();
  } catch {
    return {};
  }
  try {
    const parsed: unknown = JSON.parse(text);
    return typeof parsed === 'object' && parsed !== null ? (parsed as TwilioError) : {};
  } catch {
    return {};
  }
}

/** An operator-readable reason; the code is masked in case Twilio ever echoes the body back. */
function describe(status: number, error: TwilioError, code: string): string {
  const parts = [`twilio: HTTP ${status}`];
  if (typeof error.code === 'number') parts.push(`code ${error.code}`);
  if (typeof error.message === 'string') {
    const masked = code ? error.message.split(code).join('***') : error.message;
    parts.push(masked.slice(0, 200));
  }
  if (typeof error.more_info === 'string') parts.push(error.more_info.slice(0, 200));
  return parts.join(', ');
}
