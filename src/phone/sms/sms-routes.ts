/** Every SMS provider a setting may name. */
export const SMS_PROVIDERS = ['console', 'none', 'webhook', 'twilio', 'vonage', 'sns', 'messagebird'] as const;
export type SmsProviderName = (typeof SMS_PROVIDERS)[number];

/** The route of every country without its own entry. */
export const DEFAULT_ROUTE = '*';

/** The providers of a comma-separated list, in order ("webhook, twilio" → ["webhook", "twilio"]). */
export function providerList(setting: string): string[] {
  return setting.split(',').map((name) => name.trim());
}

/** A `KEY=value;KEY=value` setting, or the reason it cannot be read. */
export function entries(setting: string, keyPattern: RegExp): { key: string; value: string }[] | string {
  const result: { key: string; value: string }[] = [];
  const parts = setting.split(';').map((part) => part.trim());
  if (parts.length > 1 && parts[parts.length - 1] === '') parts.pop(); // a trailing ";"
  for (const part of parts) {
    const match = /^([^=\s]+)\s*=\s*(.*)$/.exec(part);
    if (!match || !keyPattern.test(match[1])) return `"${part}" is not KEY=value`;
    if (result.some((e) => e.key === match[1])) return `${match[1]} appears more than once`;
    result.push({ key: match[1], value: match[2].trim() });
  }
  return result;
}

/**
 * SMS_ROUTES read: country (ISO 3166-1 alpha-2) or `*` → provider list. A string is the reason
 * the setting cannot be read. Provider names are checked by the caller.
 */
export function parseSmsRoutes(setting: string): Map<string, string[]> | string {
  const read = entries(setting, /^([A-Z]{2}|\*)$/);
  if (typeof read === 'string') return read;
  return new Map(read.map(({ key, value }) => [key, providerList(value)]));
}

/** SMS_SENDER_IDS read: country → sender id, or the reason the setting cannot be read. */
export function parseSenderIds(setting: string): Map<string, string> | string {
  const read = entries(setting, /^[A-Z]{2}$/);
  if (typeof read === 'string') return read;
  for (const { key, value } of read) {
    if (!isSenderId(value)) {
      return `${key}: "${value}" is neither an E.164 number nor an alphanumeric sender id (1-11 letters, digits, spaces, with a letter)`;
    }
  }
  return new Map(read.map(({ key, value }) => [key, value]));
}

/** An E.164 number, or an alphanumeric sender id: up to 11 of A-Z, a-z, 0-9 and space, with at least one letter. */
export function isSenderId(value: string): boolean {
  return /^\+[1-9]\d{1,14}$/.test(value) || /^(?=[A-Za-z0-9 ]*[A-Za-z])[A-Za-z0-9 ]{1,11}$/.test(value);
}

/**
 * The provider chains in use: SMS_ROUTES' entries, and the default route (`*`): SMS_ROUTES' own
 * when it has one, else SMS_PROVIDER. Settings must have been validated.
 */
export function effectiveRoutes(sms: { provider: string; routes?: string }): Map<string, string[]> {
  const parsed = sms.routes ? parseSmsRoutes(sms.routes) : new Map<string, string[]>();
  const routes = typeof parsed === 'string' ? new Map<string, string[]>() : parsed;
  if (!routes.has(DEFAULT_ROUTE)) routes.set(DEFAULT_ROUTE, providerList(sms.provider));
  return routes;
}

/** Every provider SMS_PROVIDER (as the default route) and SMS_ROUTES name, once each, in order of appearance. */
export function configuredProviders(sms: { provider: string; routes?: string }): string[] {
  return [...new Set([...effectiveRoutes(sms).values()].flat())];
}
