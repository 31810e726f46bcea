import {
  basicAuthorization,
  discardBody,
  isRetryableStatus,
  postWithTimeout,
  statusErrorCode,
} from '../sms/http-delivery';
import { SmsDeliveryError } from '../sms/sms-sender';
import { DelegatedVerifier, judgeCheck, VerifierAnswer } from './delegated-verifier';

export interface PlivoVerifyOptions {
  /** https://api.plivo.com, or a local fake in tests */
  baseUrl: string;
  authId: string;
  authToken: string;
  appUuid?: string;
  channel: 'sms' | 'voice';
  timeoutMs: number;
}

/** Plivo's answer: the status and the fields of its JSON body this client reads. */
export interface PlivoAnswer {
  httpStatus: number;
  /** a failure's text (`error`) */
  error?: string;
  sessionUuid?: string;
}

/**
 * A validation's answer in the service's terms. 200 validates. Plivo documents no error codes for
 * a refused OTP, only a 4xx with an `error` text, so the text is read by keyword: expired, too many
 * attempts, otherwise a wrong code; 404 (no such session) is expired. 401/403 (our credentials),
 * 429 and 5xx gave no judgement: undefined (the caller answers 503).
 */
export function plivoValidateAnswer({ httpStatus, error = '' }: PlivoAnswer): VerifierAnswer | undefined {
  if (httpStatus >= 200 && httpStatus < 300) return 'approved';
  if (httpStatus === 404) return 'expired';
  if (httpStatus !== 400 && httpStatus !== 422) return undefined;
  if (/expired/i.test(error)) return 'expired';
  if (/attempt|exceeded|maximum/i.test(error)) return 'exhausted';
  return 'wrong';
}

/** Plivo Verify: a Session starts a verification, a POST to the session validates an OTP (Basic auth, JSON bodies). */
export class PlivoVerify extends DelegatedVerifier {
  readonly name = 'plivo-verify';
  private readonly sessions: string;
  private readonly authorization: string;

  constructor(private readonly options: PlivoVerifyOptions) {
    super();
    const base = options.baseUrl.replace(/\/+$/, '');
    this.sessions = `${base}/v1/Account/${encodeURIComponent(options.authId)}/Verify/Session/`;
    this.authorization = basicAuthorization(options.authId, options.authToken);
  }

  async start(to: string, language?: string): Promise<string> {
    const body: Record<string, string> = { recipient: to, channel: this.options.channel };
    if (this.options.appUuid) body.app_uuid = this.options.appUuid;
    if (language) body.locale = language.split('-')[0].toLowerCase();
    const answer = await this.post(this.sessions, body);
    if (answer.httpStatus >= 200 && answer.httpStatus < 300 && answer.sessionUuid) return answer.sessionUuid;
    // a 2xx without a session is Plivo's fault: worth another try
    const retryable = answer.httpStatus < 300 || isRetryableStatus(answer.httpStatus);
    throw new SmsDeliveryError(describe('start', answer), retryable, statusErrorCode(answer.httpStatus));
  }

  check(_to: string, verificationId: string, code: string): Promise<VerifierAnswer> {
    return judgeCheck(
      () => this.post(`${this.sessions}${encodeURIComponent(verificationId)}/`, { otp: code }),
      plivoValidateAnswer,
      (answer) => describe('validate', answer),
    );
  }

  private async post(url: string, body: Record<string, string>): Promise<PlivoAnswer> {
    const response = await postWithTimeout(
      this.name,
      url,
      {
        headers: { Authorization: this.authorization, 'Content-Type': 'application/json', Accept: 'application/json' },
        body: JSON.stringify(body),
      },
      this.options.timeoutMs,
    );
    return { httpStatus: response.status, ...(await readBody(response)) };
  }
}

async function readBody(response: Response): Promise<Omit<PlivoAnswer, 'httpStatus'>> {
  try {
    const parsed = JSON.parse(await response.text()) as Record<string, unknown> | null;
    return {
      error: typeof parsed?.error === 'string' ? parsed.error.slice(0, 200) : undefined,
      sessionUuid: typeof parsed?.session_uuid === 'string' ? parsed.session_uuid.slice(0, 200) : undefined,
    };
  } catch {
    await discardBody(response);
    return {};
  }
}

function describe(what: string, answer: PlivoAnswer): string {
  return `plivo-verify: ${what}: HTTP ${answer.httpStatus}${answer.error ? `, ${answer.error}` : ''}`;
}
