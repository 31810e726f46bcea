import { LANGUAGE_TAG, PLACEHOLDER, SmsTemplates } from './sms-templates';

/** A user language (lower-case BCP-47 tag) → a provider's value for it (a template language, a voice, a Content SID). */
export type LanguageMap = ReadonlyMap<string, string>;

/**
 * `en=en_US;de=de` read: user language → value, each value matching `value`; a string is the reason
 * the setting cannot be read.
 */
export function parseLanguageMap(setting: string, value: RegExp, accepts: string): LanguageMap | string {
  const map = new Map<string, string>();
  const parts = setting
    .split(';')
    .map((part) => part.trim())
    .filter((part) => part !== '');
  if (parts.length === 0) return 'names no language';
  for (const part of parts) {
    const match = /^([^=\s]+)\s*=\s*(\S+)$/.exec(part);
    if (!match || !LANGUAGE_TAG.test(match[1])) return `"${part}" is not language=value (such as en=${accepts})`;
    const language = match[1].toLowerCase();
    if (map.has(language)) return `${language} appears more than once`;
    if (!value.test(match[2])) return `${language}: "${match[2]}" is not ${accepts}`;
    map.set(language, match[2]);
  }
  return map;
}

/**
 * The entry for a user's language: the tag, then ever shorter prefixes of it ("de-CH" → "de"), then
 * English, then the map's first entry (so a map of one language serves everyone).
 */
export function forLanguage<T>(map: ReadonlyMap<string, T>, language: string | null | undefined): T | undefined {
  const found = candidates(language).find((tag) => map.has(tag));
  return found !== undefined ? map.get(found) : (map.get('en') ?? map.values().next().value);
}

/** "de-CH" → ["de-ch", "de"]; nothing for what is no language tag. */
function candidates(language: string | null | undefined): string[] {
  const tag = (language ?? '').trim().toLowerCase().replace(/_/g, '-');
  const parts = LANGUAGE_TAG.test(tag) ? tag.split('-') : [];
  return parts.map((_, i) => parts.slice(0, parts.length - i).join('-'));
}

/** What a call says, per language: `{{code}}` is read digit by digit. */
export const BUILT_IN_VOICE_TEMPLATES: SmsTemplates = {
  en: 'Your verification code is {{code}}.',
  de: 'Ihr Bestätigungscode lautet {{code}}.',
};

/** The text-to-speech language of each built-in voice template. */
export const BUILT_IN_VOICE_LANGUAGES: LanguageMap = new Map([
  ['en', 'en-US'],
  ['de', 'de-DE'],
]);

/** Vonage's bound for a talk action's text (Twilio's TwiML takes 4,000 characters, the call says it twice). */
export const MAX_SPOKEN_TEXT = 1_500;

/** "4829A3" → "4, 8, 2, 9, A, 3": a pause after each character, so text-to-speech reads no number. */
export function spelled(code: string): string {
  return [...code].join(', ');
}

/** One voice template rendered for a code (read one character at a time). */
export function renderVoiceText(template: string, code: string): string {
  return template.replace(PLACEHOLDER, (match, name: string) => (name === 'code' ? spelled(code) : match)).trim();
}

/** The call's words and the text-to-speech language for a user's language. */
export interface SpokenText {
  text: string;
  /** a BCP-47 tag the providers' text-to-speech knows (en-US, de-DE), undefined for the provider's default */
  language?: string;
}

/** Voice templates (VOICE_TEMPLATES over the built-ins) and the TTS language of each (VOICE_LANGUAGES over the built-ins). */
export class VoiceTexts {
  constructor(
    private readonly templates: SmsTemplates,
    private readonly languages: LanguageMap,
  ) {}

  render(code: string, language: string | undefined): SpokenText {
    const templates = new Map(Object.entries(this.templates));
    const chosen = candidates(language).find((tag) => templates.has(tag)) ?? 'en';
    // the template's own language picks the voice, so words and voice agree (none known: the provider's default)
    const voice = candidates(chosen).find((tag) => this.languages.has(tag));
    return {
      text: renderVoiceText(templates.get(chosen) ?? BUILT_IN_VOICE_TEMPLATES.en, code),
      language: voice && this.languages.get(voice),
    };
  }

  /** The templates whose words, with the longest code, exceed what a provider says in one go. */
  problems(codeLength: number): string[] {
    return Object.entries(this.templates)
      .filter(([, template]) => renderVoiceText(template, '9'.repeat(codeLength)).length > MAX_SPOKEN_TEXT)
      .map(
        ([language]) => `VOICE_TEMPLATES: the template for "${language}" is longer than ${MAX_SPOKEN_TEXT} characters`,
      );
  }
}
