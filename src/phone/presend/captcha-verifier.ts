import { postToDependency } from './dependency-post';
import { CaptchaProvider, SITEVERIFY_URLS } from './pre-send.settings';

export interface CaptchaOptions {
  provider: Exclude<CaptchaProvider, 'none'>;
  secret: string;
  minScore: number;
  timeoutMs: number;
  /** CAPTCHA_VERIFY_URL, else the provider's siteverify */
  url?: string;
}

/** What siteverify said: accepted, or why not. */
export type CaptchaVerdict = { ok: true } | { ok: false; why: 'invalid' | 'score' };

/** The fields of a siteverify answer the three providers share (Turnstile's, hCaptcha's and reCAPTCHA's documented forms). */
interface SiteverifyAnswer {
  success?: unknown;
  score?: unknown;
}

/** The longest token passed on: Turnstile's are at most 2048 characters, the others' shorter. */
export const MAX_TOKEN_LENGTH = 4096;

/**
 * Checks a CAPTCHA token with the provider's siteverify: a form POST of secret, response and
 * remoteip. reCAPTCHA v3's score must reach the minimum; hCaptcha Enterprise's score is a risk,
 * so it may be at most 1 − the minimum; Turnstile has no score. No answer in time, or an answer
 * that is no siteverify answer, is the provider's fault: a DependencyError (503, fail closed).
 */
export class CaptchaVerifier {
  readonly url: string;

  constructor(private readonly options: CaptchaOptions) {
    this.url = options.url ?? SITEVERIFY_URLS[options.provider];
  }

  get provider(): string {
    return this.options.provider;
  }

  async verify(token: string, clientAddress: string | undefined): Promise<CaptchaVerdict> {
    if (token.length > MAX_TOKEN_LENGTH) return { ok: false, why: 'invalid' };
    const form = new URLSearchParams({ secret: this.options.secret, response: token });
    if (clientAddress && clientAddress !== 'unknown') form.set('remoteip', clientAddress);
    const answer = await this.post(form);
    if (answer.success !== true) return { ok: false, why: 'invalid' };
    const score = typeof answer.score === 'number' ? answer.score : undefined;
    if (score === undefined) return { ok: true };
    const { provider, minScore } = this.options;
    if (provider === 'recaptcha' && score < minScore) return { ok: false, why: 'score' };
    if (provider === 'hcaptcha' && score > 1 - minScore) return { ok: false, why: 'score' };
    return { ok: true };
  }

  private post(form: URLSearchParams): Promise<SiteverifyAnswer> {
    const init = { headers: { 'Content-Type': 'application/x-www-form-urlencoded' }, body: form.toString() };
    return postToDependency('captcha', this.url, init, this.options.timeoutMs, async (response) => {
      if (response.status !== 200) throw new Error(`siteverify answered HTTP ${response.status}`);
      const body = (await response.json()) as unknown;
      if (typeof body !== 'object' || body === null) throw new Error('siteverify answered no JSON object');
      return body as SiteverifyAnswer;
    });
  }
}
