import { basicAuthorization, discardBody, isRetryableStatus, postWithTimeout, statusErrorCode } from './http-delivery';
import { SmsDeliveryError, SmsErrorCode } from './sms-sender';

/** A Twilio account and the deadline of its requests. */
export interface TwilioAccount {
  /** https://api.twilio.com (https://verify.twilio.com for Verify), or a local fake in tests. */
  baseUrl: string;
  accountSid: string;
  authToken: string;
  timeoutMs: number;
}

/** The URL of one of the account's 2010-04-01 resources (`Messages`, `Calls`). */
export function twilioAccountUrl(account: TwilioAccount, resource: string): string {
  const base = account.baseUrl.replace(/\/+$/, '');
  return `${base}/2010-04-01/Accounts/${encodeURIComponent(account.accountSid)}/${resource}.json`;
}

/**
 * Twilio's REST API: Basic auth with the account's SID and token, form bodies, JSON answers.
 * Timeouts and network errors become retryable SmsDeliveryErrors (postWithTimeout).
 */
export class TwilioClient {
  private readonly authorization: string;

  constructor(
    private readonly name: string,
    private readonly account: TwilioAccount,
  ) {
    this.authorization = basicAuthorization(account.accountSid, account.authToken);
  }

  post(url: string, form: URLSearchParams): Promise<Response> {
    return postWithTimeout(
      this.name,
      url,
      {
        headers: {
          Authorization: this.authorization,
          'Content-Type': 'application/x-www-form-urlencoded',
          Accept: 'application/json',
        },
        body: form.toString(),
      },
      this.account.timeoutMs,
    );
  }
}

/**
 * The JSON object of Twilio's answer, or undefined when the body is none: reading it stays under
 * the request's deadline (its abort signal covers the body too).
 */
export async function readTwilioJson(response: Response): Promise<Record<string, unknown> | undefined> {
  try {
    const parsed: unknown = JSON.parse(await response.text());
    return typeof parsed === 'object' && parsed !== null ? (parsed as Record<string, unknown>) : undefined;
  } catch {
    await discardBody(response);
    return undefined;
  }
}

/** The `sid` of an accepted resource when it has the resource's form, else undefined. */
export async function readTwilioSid(response: Response, form: RegExp): Promise<string | undefined> {
  const sid = (await readTwilioJson(response))?.sid;
  return typeof sid === 'string' && form.test(sid) ? sid : undefined;
}

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

/** Whether a failed Messages or Calls request is worth repeating: Twilio's code first, then the HTTP status. */
export function isRetryableTwilioFailure(httpStatus: number, code: number | undefined): boolean {
  if (code !== undefined && RETRYABLE_CODES.has(code)) return true;
  if (code !== undefined && FINAL_CODES.has(code)) return false;
  return isRetryableStatus(httpStatus);
}

/** What Twilio's REST API returns with a failed request. */
interface TwilioError {
  code?: number;
  message?: string;
  more_info?: string;
  status?: number;
}

/** The SmsDeliveryError of a request Twilio refused: its code first, then the HTTP status, says whether to retry. */
export async function twilioFailure(response: Response, code: string): Promise<SmsDeliveryError> {
  const error: TwilioError = (await readTwilioJson(response)) ?? {};
  const twilioCode = typeof error.code === 'number' ? error.code : undefined;
  return new SmsDeliveryError(
    describe(response.status, error, code),
    isRetryableTwilioFailure(response.status, twilioCode),
    twilioErrorCode(response.status, twilioCode),
  );
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
