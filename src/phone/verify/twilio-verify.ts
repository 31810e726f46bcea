import { isRetryableStatus } from '../sms/http-delivery';
import { SmsDeliveryError, SmsErrorCode } from '../sms/sms-sender';
import { readTwilioJson, TwilioAccount, TwilioClient, twilioErrorCode } from '../sms/twilio-client';
import { DelegatedVerifier, judgeCheck, VerifierAnswer } from './delegated-verifier';

export interface TwilioVerifyOptions extends TwilioAccount {
  serviceSid: string;
  channel: 'sms' | 'call' | 'whatsapp';
}

/** Twilio's answer to a request: the status and, with a failure, its error document's code. */
export interface TwilioAnswer {
  httpStatus: number;
  code?: number;
  /** a Verification or VerificationCheck resource's `status` */
  status?: string;
  sid?: string;
}

/** Start failures that "later" can fix: Twilio's rate limits and outages, too many concurrent requests for the number. */
const RETRYABLE_START = new Set([20429, 20500, 20503, 60212]);
/**
 * Start failures no retry fixes: invalid parameter (60200), max send attempts (60203), a landline
 * for SMS (60205), a number Verify blocks for fraud (60410), our credentials or service (20003, 20404).
 */
const FINAL_START = new Set([60200, 60203, 60205, 60410, 20003, 20404]);

/** Whether a failed start is worth repeating, and the metrics' name of the failure. */
export function twilioStartFailure(answer: TwilioAnswer): { retryable: boolean; code: SmsErrorCode } {
  const { httpStatus, code } = answer;
  const known = code !== undefined && (RETRYABLE_START.has(code) || FINAL_START.has(code));
  const retryable = known ? RETRYABLE_START.has(code) : isRetryableStatus(httpStatus);
  return { retryable, code: known ? `twilio_${code}` : twilioErrorCode(httpStatus, code) };
}

/**
 * A VerificationCheck's answer in the service's terms: approved; pending is a wrong code; 20404 (no
 * pending verification: expired, or ended) and canceled/expired are expired; 60202 and
 * max_attempts_reached are too many attempts; 60200 (a code Twilio cannot read) is a wrong code.
 * Anything else gave no judgement: undefined (the caller answers 503).
 */
export function twilioCheckAnswer(answer: TwilioAnswer): VerifierAnswer | undefined {
  const { httpStatus, code, status } = answer;
  if (httpStatus >= 200 && httpStatus < 300) {
    if (status === 'approved') return 'approved';
    if (status === 'pending') return 'wrong';
    if (status === 'canceled' || status === 'expired') return 'expired';
    if (status === 'max_attempts_reached') return 'exhausted';
    return undefined;
  }
  if (code === 20404 || (httpStatus === 404 && code === undefined)) return 'expired';
  if (code === 60202) return 'exhausted';
  if (code === 60200) return 'wrong';
  return undefined;
}

/** Locales Twilio Verify renders its text in (its "supported languages"); others are left to Twilio's choice by country. */
const LOCALES = new Set(
  'af ar ca cs da de el en es et fi fr he hi hr hu id it ja ko lt ms nb nl pl pt ro ru sk sv th tl tr uk vi zh'.split(
    ' ',
  ),
);

/** Twilio Verify v2: the Verifications resource starts, VerificationCheck judges (Basic auth, form bodies). */
export class TwilioVerify extends DelegatedVerifier {
  readonly name = 'twilio-verify';
  private readonly service: string;
  private readonly client: TwilioClient;

  constructor(private readonly options: TwilioVerifyOptions) {
    super();
    this.service = `${options.baseUrl.replace(/\/+$/, '')}/v2/Services/${encodeURIComponent(options.serviceSid)}`;
    this.client = new TwilioClient(this.name, options);
  }

  async start(to: string, language?: string): Promise<string> {
    const form = new URLSearchParams({ To: to, Channel: this.options.channel });
    const locale = language?.split('-')[0]?.toLowerCase();
    if (locale && LOCALES.has(locale)) form.set('Locale', locale);
    const answer = await this.post('Verifications', form);
    if (answer.httpStatus >= 200 && answer.httpStatus < 300 && answer.sid) return answer.sid;
    const { retryable, code } = twilioStartFailure(answer);
    throw new SmsDeliveryError(describe('start', answer), retryable, code);
  }

  check(_to: string, verificationId: string, code: string): Promise<VerifierAnswer> {
    const form = new URLSearchParams({ VerificationSid: verificationId, Code: code });
    return judgeCheck(
      () => this.post('VerificationCheck', form),
      twilioCheckAnswer,
      (answer) => describe('check', answer),
    );
  }

  private async post(resource: string, form: URLSearchParams): Promise<TwilioAnswer> {
    const response = await this.client.post(`${this.service}/${resource}`, form);
    return { httpStatus: response.status, ...(await readBody(response)) };
  }
}

/** The fields of Twilio's JSON answer this client reads ({} when the body is not JSON or cannot be read). */
async function readBody(response: Response): Promise<Omit<TwilioAnswer, 'httpStatus'>> {
  const parsed = await readTwilioJson(response);
  if (!parsed) return {};
  return {
    code: typeof parsed.code === 'number' ? parsed.code : undefined,
    status: typeof parsed.status === 'string' ? parsed.status : undefined,
    sid: typeof parsed.sid === 'string' && /^VE[0-9a-fA-F]{32}$/.test(parsed.sid) ? parsed.sid : undefined,
  };
}

function describe(what: string, answer: TwilioAnswer): string {
  const code = answer.code === undefined ? '' : `, code ${answer.code}`;
  return `twilio-verify: ${what}: HTTP ${answer.httpStatus}${code}${answer.status ? `, status ${answer.status}` : ''}`;
}
