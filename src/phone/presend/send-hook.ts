import { boundText } from '../../common/errors/bounded-text';
import { Channel, CHANNELS } from '../sms/channels';
import { SIGNATURE_HEADER, webhookSignature } from '../sms/webhook-sms-sender';
import { postToDependency } from './dependency-post';

/** What the hook is told about one send (docs/pre-send-checks.md): never the number, never a code. */
export interface SendContext {
  type: 'phone.code.send';
  time: string;
  use: 'set_phone' | 'resend_code';
  requestId?: string;
  org: string;
  user: string;
  /** the caller is the user itself */
  selfService: boolean;
  country: string | null;
  /** the number without its last 4 digits */
  prefix: string;
  clientAddress: string;
  /** the pumping guard's counts (advisory, read before the send); absent when SMS_FRAUD_MODE=off */
  fraud?: unknown;
}

/** The hook's answer, read and checked. */
export type HookAnswer =
  { action: 'allow'; channel?: Channel } | { action: 'deny'; reason: string; retryAfterMs?: number };

const MAX_REASON_BYTES = 160;
const MAX_RETRY_SECONDS = 86_400;
const MAX_ANSWER_BYTES = 4096;

export interface SendHookOptions {
  url: string;
  secret: string;
  timeoutMs: number;
}

/**
 * The operator's risk hook: POSTs the send's context, signed as the SMS webhook is
 * (`ZITADEL-Signature: t=<unix seconds>,v1=<hex HMAC-SHA-256 of "<t>.<body>">`), and reads its
 * answer. No 2xx answer in time, or one that is not a valid answer, throws a DependencyError:
 * the caller applies SEND_HOOK_ON_TIMEOUT.
 */
export class SendHook {
  constructor(private readonly options: SendHookOptions) {}

  async ask(context: SendContext, nowSeconds: number): Promise<HookAnswer> {
    const body = JSON.stringify(context);
    const headers = {
      'Content-Type': 'application/json',
      [SIGNATURE_HEADER]: `t=${nowSeconds},v1=${webhookSignature(this.options.secret, nowSeconds, body)}`,
    };
    const { url, timeoutMs } = this.options;
    return postToDependency('send_hook', url, { headers, body }, timeoutMs, async (response) => {
      if (response.status < 200 || response.status >= 300) {
        await response.body?.cancel().catch(() => undefined);
        throw new Error(`the hook answered HTTP ${response.status}`);
      }
      const text = await response.text();
      if (text.length > MAX_ANSWER_BYTES) throw new Error('the hook answered more than 4096 bytes');
      return readAnswer(JSON.parse(text) as unknown);
    });
  }
}

/** The answer's fields, checked; anything else is the hook's fault (thrown). */
export function readAnswer(body: unknown): HookAnswer {
  if (typeof body !== 'object' || body === null) throw new Error('the hook answered no JSON object');
  const { action, channel, reason, retryAfterSeconds } = body as Record<string, unknown>;
  if (action === 'allow') {
    if (channel === undefined || channel === null) return { action };
    if (typeof channel === 'string' && (CHANNELS as readonly string[]).includes(channel)) {
      return { action, channel: channel as Channel };
    }
    throw new Error(`the hook answered an unknown channel (one of ${CHANNELS.join(', ')})`);
  }
  if (action !== 'deny') throw new Error('the hook answered no action (allow or deny)');
  const answer: HookAnswer = { action, reason: sanitizedReason(reason) };
  if (retryAfterSeconds === undefined || retryAfterSeconds === null) return answer;
  if (typeof retryAfterSeconds !== 'number' || !Number.isFinite(retryAfterSeconds) || retryAfterSeconds <= 0) {
    throw new Error('the hook answered a retryAfterSeconds that is no positive number');
  }
  return { ...answer, retryAfterMs: Math.ceil(Math.min(retryAfterSeconds, MAX_RETRY_SECONDS)) * 1000 };
}

/** The reason shown to the caller: printable text only, one line, at most 160 bytes; "denied" when there is none. */
export function sanitizedReason(reason: unknown): string {
  if (typeof reason !== 'string') return 'denied';
  const printable = reason
    // eslint-disable-next-line no-control-regex -- control characters are what is taken out
    .replace(/[\u0000-\u001f\u007f-\u009f\u2028\u2029]/g, ' ')
    .replace(/\s+/g, ' ')
    .trim();
  return printable ? boundText(printable, MAX_REASON_BYTES) : 'denied';
}
