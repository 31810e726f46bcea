/** Templates by lower-case BCP-47 tag; each contains {{code}} and may contain {{displayName}}. */
export type SmsTemplates = Readonly<Record<string, string>>;

/** `{{ name }}`: the only syntax a template has. */
export const PLACEHOLDER = /\{\{\s*([^{}]*?)\s*\}\}/g;
export const LANGUAGE_TAG = /^[a-z]{2,8}(-[a-z0-9]{1,8})*$/i;

const KNOWN_PLACEHOLDERS = new Set(['code', 'displayName']);
const MAX_TEMPLATE_LENGTH = 1600;
const EXAMPLE = 'must be a JSON object of language → template, such as {"en": "Your code: {{code}}"}';

/**
 * Reads SMS_TEMPLATES. Throws an Error whose message lists every problem; SmsText turns it into
 * the ConfigError that stops start-up.
 */
export function parseSmsTemplates(raw: string): SmsTemplates {
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch {
    throw new Error(EXAMPLE);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new Error(EXAMPLE);
  const problems: string[] = [];
  const templates: Record<string, string> = {};
  for (const [language, template] of Object.entries(parsed)) {
    if (!LANGUAGE_TAG.test(language)) {
      problems.push(`"${language}" is not a language tag such as "en" or "de-CH"`);
    } else if (typeof template !== 'string' || template.length > MAX_TEMPLATE_LENGTH) {
      problems.push(`the template for "${language}" must be a string of at most ${MAX_TEMPLATE_LENGTH} characters`);
    } else if (!/\{\{\s*code\s*\}\}/.test(template)) {
      problems.push(`the template for "${language}" must contain {{code}}`);
    } else {
      const unknown = [...template.matchAll(PLACEHOLDER)].map((m) => m[1]).find((n) => !KNOWN_PLACEHOLDERS.has(n));
      if (unknown !== undefined) {
        problems.push(`the template for "${language}" uses {{${unknown}}}; only {{code}} and {{displayName}} exist`);
      } else {
        templates[language.toLowerCase()] = template;
      }
    }
  }
  if (problems.length > 0) throw new Error(problems.join('; '));
  return templates;
}
