import { forLanguage, LanguageMap } from './channel-texts';
import { discardBody, isRetryableStatus, postWithTimeout, statusErrorCode } from './http-delivery';
import { SmsAccepted, SmsDeliveryError, SmsErrorCode, SmsMessage, SmsSender } from './sms-sender';

export interface MetaWhatsAppSenderOptions {
  /** https://graph.facebook.com, or a local fake in tests. */
  baseUrl: string;
  apiVersion: string;
  phoneNumberId: string;
  accessToken: string;
  /** an approved authentication template: the code in the body ({{1}}) and a copy-code button */
  templateName: string;
  /** user language → the template's language code (en_US, de…) */
  templateLanguages: LanguageMap;
  timeoutMs: number;
}

/**
 * Graph API error codes that say "later may work": the API's own faults (1, 2, 131000, 131016,
 * 133004) and rate limits (4 app, 80007 business account, 130429 throughput, 131048 spam,
 * 131056 business/consumer pair).
 */
const RETRYABLE_CODES = new Set([1, 2, 4, 80007, 130429, 131000, 131016, 131048, 131056, 133004]);
/**
 * Codes no retry can fix: credentials and permissions (0, 3, 10, 190, 200), the request (100,
 * 131008, 131009), the recipient (131021 is the sender, 131026 undeliverable, 131030 not allowed
 * on a test number, 131047 re-engagement), the account (131005, 131031 locked, 131042 payment,
 * 131045 certificate, 133010 number not registered, 368 blocked for policy) and the template
 * (131051, 132000 parameter count, 132001 missing, 132005 too long, 132007 policy, 132012
 * parameter format, 132015 paused, 132016 disabled).
 */
const FINAL_CODES = new Set([
  0, 3, 10, 190, 200, 100, 131008, 131009, 131021, 131026, 131030, 131047, 131005, 131031, 131042, 131045, 133010, 368,
  131051, 132000, 132001, 132005, 132007, 132012, 132015, 132016,
]);

/** The metrics' name of a failure: Meta's code when it is one of those above, else the status class. */
export function metaErrorCode(httpStatus: number, code: number | undefined): SmsErrorCode {
  if (code !== undefined && (RETRYABLE_CODES.has(code) || FINAL_CODES.has(code))) return `meta_${code}`;
  return statusErrorCode(httpStatus);
}

export function isRetryableMetaFailure(httpStatus: number, code: number | undefined): boolean {
  if (code !== undefined && RETRYABLE_CODES.has(code)) return true;
  if (code !== undefined && FINAL_CODES.has(code)) return false;
  return isRetryableStatus(httpStatus);
}

interface GraphError {
  message?: unknown;
  type?: unknown;
  code?: unknown;
  error_subcode?: unknown;
  fbtrace_id?: unknown;
}

/**
 * Meta's WhatsApp Cloud API: a template message to /{phone-number-id}/messages with the code as
 * the body's parameter and the copy-code button's. No idempotency key here either: a request that
 * timed out after Meta took it and is then retried sends twice.
 */
export class MetaWhatsAppSender extends SmsSender {
  readonly name = 'meta';
  private readonly url: string;

  constructor(private readonly options: MetaWhatsAppSenderOptions) {
    super();
    const base = options.baseUrl.replace(/\/+$/, '');
    this.url = `${base}/${options.apiVersion}/${encodeURIComponent(options.phoneNumberId)}/messages`;
  }

  async send(message: SmsMessage): Promise<SmsAccepted> {
    const code = [{ type: 'text', text: message.code }];
    const body = {
      messaging_product: 'whatsapp',
      recipient_type: 'individual',
      to: message.to.replace(/^\+/, ''),
      type: 'template',
      template: {
        name: this.options.templateName,
        language: { code: forLanguage(this.options.templateLanguages, message.language) },
        components: [
          { type: 'body', parameters: code },
          { type: 'button', sub_type: 'url', index: '0', parameters: code },
        ],
      },
    };
    const response = await postWithTimeout(
      this.name,
      this.url,
      {
        headers: {
          Authorization: `Bearer ${this.options.accessToken}`,
          'Content-Type': 'application/json',
          Accept: 'application/json',
        },
        body: JSON.stringify(body),
      },
      this.options.timeoutMs,
    );
    if (response.status >= 200 && response.status < 300) {
      const id = await readMessageId(response);
      return id ? { provider: this.name, providerMessageId: id } : { provider: this.name };
    }
    const error = await readError(response);
    const metaCode = typeof error.code === 'number' ? error.code : undefined;
    throw new SmsDeliveryError(
      describe(response.status, error, message.code),
      isRetryableMetaFailure(response.status, metaCode),
      metaErrorCode(response.status, metaCode),
    );
  }
}

/** `messages[0].id` ("wamid.…") of an accepted message; undefined when the body is not the documented one. */
async function readMessageId(response: Response): Promise<string | undefined> {
  try {
    const parsed = JSON.parse(await response.text()) as { messages?: { id?: unknown }[] } | null;
    const id = parsed?.messages?.[0]?.id;
    return typeof id === 'string' && /^\S{1,200}$/.test(id) ? id : undefined;
  } catch {
    await discardBody(response);
    return undefined;
  }
}

async function readError(response: Response): Promise<GraphError> {
  try {
    const parsed = JSON.parse(await response.text()) as { error?: unknown } | null;
    return typeof parsed?.error === 'object' && parsed.error !== null ? (parsed.error as GraphError) : {};
  } catch {
    return {};
  }
}

/** An operator-readable reason; the code is masked in case Meta echoes a parameter back. */
function describe(status: number, error: GraphError, code: string): string {
  const parts = [`meta: HTTP ${status}`];
  if (typeof error.code === 'number') parts.push(`code ${error.code}`);
  if (typeof error.error_subcode === 'number') parts.push(`subcode ${error.error_subcode}`);
  if (typeof error.message === 'string') {
    parts.push((code ? error.message.split(code).join('***') : error.message).slice(0, 200));
  }
  if (typeof error.fbtrace_id === 'string') parts.push(`fbtrace_id ${error.fbtrace_id.slice(0, 40)}`);
  return parts.join(', ');
}
