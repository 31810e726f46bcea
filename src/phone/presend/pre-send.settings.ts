import { Transform } from 'class-transformer';
import { IsNumber, Max, Min } from 'class-validator';
import {
  DurationRange,
  mustBe,
  OneOf,
  Optional,
  Pattern,
  ProviderTimeout,
  Rule,
  Setting,
  SettingsGroup,
} from '../../common/config/setting';
import type { SettingsContext } from '../../common/config/settings-reader';

export const CAPTCHA_PROVIDERS = ['none', 'turnstile', 'hcaptcha', 'recaptcha'] as const;
export type CaptchaProvider = (typeof CAPTCHA_PROVIDERS)[number];
export type CaptchaRequiredFor = 'self' | 'all' | 'none';
export type HookFailure = 'fail-closed' | 'fail-open';

/** Each provider's documented siteverify endpoint. */
export const SITEVERIFY_URLS: Record<Exclude<CaptchaProvider, 'none'>, string> = {
  turnstile: 'https://challenges.cloudflare.com/turnstile/v0/siteverify',
  hcaptcha: 'https://api.hcaptcha.com/siteverify',
  recaptcha: 'https://www.google.com/recaptcha/api/siteverify',
};

const SCORE = 'a number between 0 and 1, such as 0.5';
const HTTP_URL = /^https?:\/\/[^\s/?#@]+(\/\S*)?$/;
const HTTP_URL_TEXT = 'an http(s) URL without credentials';
const SECRET = /^\S{32,512}$/;

@SettingsGroup(
  'Pre-send checks',
  'A CAPTCHA and a risk hook that can refuse a SetPhone or ResendPhoneCode send before it costs anything ([Pre-send checks](pre-send-checks.md)).',
)
export class PreSendSettings {
  @Setting(
    'CAPTCHA_PROVIDER',
    '`none`, `turnstile`, `hcaptcha` or `recaptcha`: whose siteverify checks `x-captcha-token`',
  )
  @OneOf(CAPTCHA_PROVIDERS, 'none, turnstile, hcaptcha or recaptcha')
  readonly captchaProvider: CaptchaProvider = 'none';

  @Setting('CAPTCHA_SECRET', "the provider's secret key (required with a provider)")
  @Optional()
  @Pattern(/^\S{1,512}$/, '1 to 512 characters without spaces')
  readonly captchaSecret?: string = undefined;

  @Setting(
    'CAPTCHA_MIN_SCORE',
    "the least reCAPTCHA v3 score accepted (hCaptcha Enterprise's risk score: at most 1 − this); Turnstile has none",
  )
  @Rule(
    SCORE,
    Transform(({ value }: { value: unknown }) =>
      typeof value === 'string' && /^\s*\d+(\.\d+)?\s*$/.test(value) ? Number(value) : value,
    ),
    IsNumber({}, mustBe(SCORE)),
    Min(0, mustBe(SCORE)),
    Max(1, mustBe(SCORE)),
  )
  readonly captchaMinScore: number = 0.5;

  @Setting(
    'CAPTCHA_REQUIRED_FOR',
    '`self` (a user setting its own number), `all` callers or `none`; a token given is always checked',
  )
  @OneOf(['self', 'all', 'none'], 'self, all or none')
  readonly captchaRequiredFor: CaptchaRequiredFor = 'self';

  @Setting('CAPTCHA_VERIFY_URL', "the siteverify URL, if not the provider's own", { default: "the provider's" })
  @Optional()
  @Pattern(HTTP_URL, HTTP_URL_TEXT)
  readonly captchaVerifyUrl?: string = undefined;

  @Setting('CAPTCHA_TIMEOUT', 'how long siteverify may take; beyond it the send is refused with 503')
  @ProviderTimeout()
  readonly captchaTimeoutMs: number = 3_000;

  @Setting(
    'SEND_HOOK_URL',
    'the risk hook: a URL POSTed the context of each send, which answers allow, deny or a channel',
  )
  @Optional()
  @Pattern(HTTP_URL, HTTP_URL_TEXT)
  readonly hookUrl?: string = undefined;

  @Setting('SEND_HOOK_SECRET', "the key of the hook's `ZITADEL-Signature` header (required with a hook)")
  @Optional()
  @Pattern(SECRET, '32 to 512 characters without spaces (e.g. openssl rand -hex 32)')
  readonly hookSecret?: string = undefined;

  @Setting('SEND_HOOK_TIMEOUT', 'how long the hook may take to answer')
  @DurationRange('100ms', '30s', ', such as 2s')
  readonly hookTimeoutMs: number = 2_000;

  @Setting(
    'SEND_HOOK_ON_TIMEOUT',
    '`fail-closed` (refuse with 503) or `fail-open` (send) when the hook is late, down or answers nonsense',
    { default: '`fail-closed` when `NODE_ENV=production`, else `fail-open`' },
  )
  @Optional()
  @OneOf(['fail-closed', 'fail-open'], 'fail-closed or fail-open')
  readonly hookOnTimeout?: HookFailure = undefined;

  problems({ production }: SettingsContext): string[] {
    const problems: string[] = [];
    if (this.captchaProvider !== 'none' && !this.captchaSecret) {
      problems.push('CAPTCHA_SECRET: required when CAPTCHA_PROVIDER is set');
    }
    if (this.hookUrl && !this.hookSecret) problems.push('SEND_HOOK_SECRET: required when SEND_HOOK_URL is set');
    for (const [env, url] of [
      ['CAPTCHA_VERIFY_URL', this.captchaVerifyUrl],
      ['SEND_HOOK_URL', this.hookUrl],
    ] as const) {
      if (url && !URL.canParse(url)) problems.push(`${env}: must be ${HTTP_URL_TEXT}`);
      else if (production && url && !url.startsWith('https://')) {
        problems.push(`${env}: must be https:// when NODE_ENV=production`);
      }
    }
    return problems;
  }

  /** SEND_HOOK_ON_TIMEOUT, or its default for the environment. */
  hookFailure(production: boolean): HookFailure {
    return this.hookOnTimeout ?? (production ? 'fail-closed' : 'fail-open');
  }
}
