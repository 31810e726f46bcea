import { Injectable } from '@nestjs/common';
import { ConfigError } from '../../common/config/config-error';
import { CodeSettings } from '../phone-codes.settings';
import { fitsOneSegment, segmentUse } from './gsm7';
import { SmsSettings } from './sms.settings';
import { LANGUAGE_TAG, parseSmsTemplates, PLACEHOLDER, SmsTemplates } from './sms-templates';

export { parseSmsTemplates } from './sms-templates';
export type { SmsTemplates } from './sms-templates';

/** What the message text is made from. */
export interface SmsTextInput {
  code: string;
  displayName?: string | null;
  /** The user's preferred language as a BCP-47 tag ("de-CH"); unknown or missing → English. */
  language?: string | null;
}

export const FALLBACK_LANGUAGE = 'en';

/**
 * ASCII only, so every route can send them as GSM-7 (160 characters a segment). German umlauts are
 * in the GSM-7 default alphabet, but some routes switch to UCS-2 for them (70 a segment): the German
 * wording avoids them. The display name is left out on purpose: it is chosen by the user, and
 * putting it into messages to arbitrary numbers would let anyone send text of their choosing.
 */
export const BUILT_IN_SMS_TEMPLATES: SmsTemplates = {
  en: '{{code}} is your code to verify your phone number. Do not share it with anyone.',
  de: '{{code}} ist Ihr Code zur Verifizierung Ihrer Telefonnummer. Geben Sie ihn nicht weiter.',
};

const MAX_DISPLAY_NAME_LENGTH = 50;

/** "de-CH" → ["de-ch", "de"]: the tag, then ever shorter prefixes of it. */
function languageCandidates(language: string | null | undefined): string[] {
  const tag = (language ?? '').trim().toLowerCase().replace(/_/g, '-');
  if (!LANGUAGE_TAG.test(tag)) return [];
  const parts = tag.split('-');
  return parts.map((_, i) => parts.slice(0, parts.length - i).join('-'));
}

/** One line, no control characters, bounded: a display name cannot reshape the message. */
function sanitizeDisplayName(name: string | null | undefined): string {
  const flat = (name ?? '')
    .replace(/[\p{Cc}\p{Cf}\p{Zl}\p{Zp}]+/gu, ' ')
    .replace(/\s+/g, ' ')
    .trim();
  return [...flat].slice(0, MAX_DISPLAY_NAME_LENGTH).join('');
}

/** What is added under every template: the app hash for Android's SMS Retriever, the WebOTP line. */
export interface SmsTextExtras {
  webOtpDomain?: string;
  androidAppHash?: string;
}

/**
 * Renders the text for one code: the template of the best-matching language, then, after a blank
 * line, the Android app hash (SMS_ANDROID_APP_HASH; SMS Retriever finds it anywhere in the text)
 * and the origin-bound one-time code line `@<domain> #<code>` (SMS_WEBOTP_DOMAIN), which WebOTP
 * and iOS/Android autofill read only as the last line. A display name is cut to what keeps the
 * text in one segment.
 */
export function renderSmsText(input: SmsTextInput, templates: SmsTemplates, extras: SmsTextExtras = {}): string {
  const { webOtpDomain, androidAppHash } = extras;
  const language = languageCandidates(input.language).find((tag) => templates[tag] !== undefined);
  const template = templates[language ?? FALLBACK_LANGUAGE] ?? BUILT_IN_SMS_TEMPLATES[FALLBACK_LANGUAGE];
  const tail = [androidAppHash, webOtpDomain ? `@${webOtpDomain} #${input.code}` : undefined].filter(Boolean);
  const render = (displayName: string) => {
    const values: Record<string, string> = { code: input.code, displayName };
    // one pass, so a display name that contains "{{code}}" stays literal text
    const text = template
      .replace(PLACEHOLDER, (match, name: string) => (Object.hasOwn(values, name) ? values[name] : match))
      .trimEnd();
    return tail.length > 0 ? `${text}\n\n${tail.join('\n')}` : text;
  };
  const name = [...sanitizeDisplayName(input.displayName)];
  let text = render(name.join(''));
  // bounded by the name's 50 characters; the start checked that the template fits without one
  while (name.length > 0 && !fitsOneSegment(text)) {
    name.pop();
    text = render(name.join('').trimEnd());
  }
  return text;
}

/** The longest code PHONE_CODE_LENGTH draws (every character of either alphabet is one GSM-7 septet). */
function longestCode(codes: Pick<CodeSettings, 'length'>): string {
  return '9'.repeat(codes.length);
}

/**
 * Why templates cannot go as one SMS segment with the longest code, the app hash and the WebOTP
 * line (a display name is cut at render, so it is measured empty): one problem per template.
 */
export function segmentProblems(
  templates: SmsTemplates,
  extras: SmsTextExtras,
  codes: Pick<CodeSettings, 'length'>,
): string[] {
  const added = [extras.androidAppHash && 'the app hash', extras.webOtpDomain && 'the WebOTP line'].filter(Boolean);
  return Object.keys(templates)
    .sort()
    .flatMap((language) => {
      const text = renderSmsText({ code: longestCode(codes), language }, { [language]: templates[language] }, extras);
      const use = segmentUse(text);
      if (use.length <= use.limit) return [];
      const what = [`a ${codes.length}-character code`, ...added].join(', ').replace(/, ([^,]*)$/, ' and $1');
      return [
        `SMS_TEMPLATES: the template for "${language}" with ${what} takes ${use.length} ${use.encoding} characters; ` +
          `one SMS segment holds ${use.limit}`,
      ];
    });
}

/**
 * SMS_TEMPLATES, checked here rather than in the config schema (common imports no feature): built
 * when the phone module starts, so a template it cannot use still stops start-up with the one JSON
 * line of a ConfigError that names the variable.
 */
function configuredTemplates(raw: string | undefined): SmsTemplates {
  if (!raw) return {};
  try {
    return parseSmsTemplates(raw);
  } catch (error) {
    throw new ConfigError([`SMS_TEMPLATES: ${(error as Error).message}`]);
  }
}

/** Codes of the default length, for callers that build an SmsText without the code settings. */
const DEFAULT_CODES: Pick<CodeSettings, 'length'> = { length: 6 };

/**
 * The message text as configured (SMS_TEMPLATES over the built-ins, SMS_ANDROID_APP_HASH,
 * SMS_WEBOTP_DOMAIN); a template that cannot go as one segment stops the start.
 */
@Injectable()
export class SmsText {
  private readonly templates: SmsTemplates;
  private readonly extras: SmsTextExtras;

  constructor(config: SmsSettings, codes: CodeSettings = DEFAULT_CODES as CodeSettings) {
    this.templates = { ...BUILT_IN_SMS_TEMPLATES, ...configuredTemplates(config.templates) };
    this.extras = { webOtpDomain: config.webOtpDomain, androidAppHash: config.androidAppHash };
    const problems = segmentProblems(this.templates, this.extras, codes);
    if (problems.length > 0) throw new ConfigError(problems);
  }

  render(input: SmsTextInput): string {
    return renderSmsText(input, this.templates, this.extras);
  }
}
