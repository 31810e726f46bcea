import { Injectable } from '@nestjs/common';
import { getCountries, getCountryCallingCode, parsePhoneNumberFromString } from 'libphonenumber-js/max';
import { AppSettings } from '../common/config/app.settings';
import { ConfigError } from '../common/config/config-error';
import { CodeSettings } from './phone-codes.settings';
import { canonicalCode, CodeAlphabet } from './code-generator';

/** One entry of SMS_TEST_NUMBERS: an E.164 number, or a prefix of one ending in `*`, and its fixed code. */
export interface TestNumber {
  /** as written: `+41790000001` or `+41759990*` */
  entry: string;
  /** the digits with their `+`, without the `*` */
  number: string;
  prefix: boolean;
  code: string;
}

const ENTRY = /^(\+[1-9]\d{0,14})(\*?)$/;
const CODE_CHARS: Record<CodeAlphabet, RegExp> = { digits: /^[0-9]+$/, alphanumeric: /^[A-Z0-9]+$/ };

/** A prefix names its country and this many digits after the calling code: `+4*` would exempt a continent from every send limit. */
export const TEST_PREFIX_MIN_DIGITS = 6;
const CALLING_CODES = new Set(getCountries().map((country) => getCountryCallingCode(country) as string));

/** The country calling code a number starts with (they are prefix-free: at most one matches). */
function callingCodeOf(e164: string): string | undefined {
  const digits = e164.slice(1);
  return [1, 2, 3].map((length) => digits.slice(0, length)).find((code) => CALLING_CODES.has(code));
}

/**
 * SMS_TEST_NUMBERS: `;`-separated `<number>=<code>`, the number in E.164 or a prefix ending in `*`;
 * each code one the service could have generated. Throws the first problem found, in words.
 */
export function parseTestNumbers(raw: string, length: number, alphabet: CodeAlphabet): TestNumber[] {
  const entries: TestNumber[] = [];
  const seen = new Set<string>();
  for (const part of raw.split(';')) {
    if (part.trim() === '') continue;
    const at = part.indexOf('=');
    const entry = (at < 0 ? part : part.slice(0, at)).trim();
    if (at < 0) throw new Error(`"${entry}" has no code: write <number>=<code>, e.g. +41790000001=123456`);
    const match = ENTRY.exec(entry.replace(/[\s-]/g, ''));
    if (!match) {
      throw new Error(
        `"${entry}" is not an E.164 number (+ and up to 15 digits) or such a prefix followed by * (e.g. +41759990*)`,
      );
    }
    const code = canonicalCode(part.slice(at + 1), alphabet);
    if (code.length !== length || !CODE_CHARS[alphabet].test(code)) {
      throw new Error(
        `the code of "${entry}" must be ${length} ${alphabet === 'digits' ? 'digits' : 'letters or digits'} ` +
          '(PHONE_CODE_LENGTH, PHONE_CODE_ALPHABET)',
      );
    }
    const [, number, star] = match;
    if (!star) {
      // an exact number is compared with the E.164 form of what a request names: it must be that form
      const parsed = parsePhoneNumberFromString(number);
      if (!parsed?.isValid()) throw new Error(`"${entry}" is not a valid number for its country`);
      if (parsed.number !== number) throw new Error(`"${entry}" must be written in E.164 form: ${parsed.number}`);
    }
    if (star) {
      const country = callingCodeOf(number);
      if (!country || number.length - 1 - country.length < TEST_PREFIX_MIN_DIGITS) {
        throw new Error(
          `the prefix "${entry}" must start with a country calling code and name at least ${TEST_PREFIX_MIN_DIGITS} ` +
            `more digits (e.g. ${country ? `+${country}` : '+41'}${'7'.repeat(TEST_PREFIX_MIN_DIGITS)}*)`,
        );
      }
    }
    const key = `${number}${star}`;
    if (seen.has(key)) throw new Error(`"${entry}" is listed twice`);
    seen.add(key);
    entries.push({ entry, number, prefix: star === '*', code });
  }
  if (entries.length === 0) throw new Error('lists no number: write <number>=<code>;…');
  return entries;
}

/**
 * Numbers never sent an SMS, exempt from send limits, with a fixed code (app-store review,
 * monitoring). Checked as the phone module starts; production needs SMS_TEST_NUMBERS_IN_PRODUCTION.
 */
@Injectable()
export class TestNumbers {
  private readonly exact = new Map<string, string>();
  /** longest prefix first */
  private readonly prefixes: TestNumber[] = [];

  constructor(config: CodeSettings, app: AppSettings) {
    if (!config.testNumbers) return;
    let entries: TestNumber[];
    try {
      entries = parseTestNumbers(config.testNumbers, config.length, config.alphabet);
    } catch (error) {
      throw new ConfigError([`SMS_TEST_NUMBERS: ${(error as Error).message}`]);
    }
    if (app.production && !config.testNumbersInProduction) {
      throw new ConfigError([
        'SMS_TEST_NUMBERS: test numbers are refused when NODE_ENV=production; ' +
          'set SMS_TEST_NUMBERS_IN_PRODUCTION=true to allow them there (e.g. for app-store review)',
      ]);
    }
    for (const entry of entries) {
      if (entry.prefix) this.prefixes.push(entry);
      else this.exact.set(entry.number, entry.code);
    }
    this.prefixes.sort((a, b) => b.number.length - a.number.length);
  }

  /** The fixed code of a test number (E.164); undefined for every other number. */
  codeFor(e164: string): string | undefined {
    return this.exact.get(e164) ?? this.prefixes.find((entry) => e164.startsWith(entry.number))?.code;
  }
}
