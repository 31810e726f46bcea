import { Injectable } from '@nestjs/common';
import { ConfigError } from '../../common/config/config-error';
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

/**
 * Renders the text for one code: the template of the best-matching language, and, when
 * `webOtpDomain` is set, the origin-bound one-time code line `@<domain> #<code>` as the last line
 * (what the WebOTP API and iOS/Android autofill look for).
 */
export function renderSmsText(input: SmsTextInput, templates: SmsTemplates, webOtpDomain?: string): string {
  const language = languageCandidates(input.language).find((tag) => templates[tag] !== undefined);
  const template = templates[language ?? FALLBACK_LANGUAGE] ?? BUILT_IN_SMS_TEMPLATES[FALLBACK_LANGUAGE];
  const values: Record<string, string> = { code: input.code, displayName: sanitizeDisplayName(input.displayName) };
  // one pass, so a display name that contains "{{code}}" stays literal text
  const text = template
    .replace(PLACEHOLDER, (match, name: string) => (Object.hasOwn(values, name) ? values[name] : match))
    .trimEnd();
  return webOtpDomain ? `${text}\n\n@${webOtpDomain} #${input.code}` : text;
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

/** The message text as configured (SMS_TEMPLATES over the built-ins, SMS_WEBOTP_DOMAIN). */
@Injectable()
export class SmsText {
  private readonly templates: SmsTemplates;
  private readonly webOtpDomain?: string;

  constructor(config: SmsSettings) {
    this.templates = { ...BUILT_IN_SMS_TEMPLATES, ...configuredTemplates(config.templates) };
    this.webOtpDomain = config.webOtpDomain;
  }

  render(input: SmsTextInput): string {
    return renderSmsText(input, this.templates, this.webOtpDomain);
  }
}
