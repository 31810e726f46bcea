import { Injectable } from '@nestjs/common';
import { CountryCode, parsePhoneNumberWithError, ParseError } from 'libphonenumber-js/max';
import { CodeSettings } from './phone-codes.settings';
import { PhoneErrors } from './phone.errors';

export interface ParsedPhone {
  e164: string;
  country?: string;
  type?: string;
}

/** Parses and checks numbers with libphonenumber's full metadata; everything is stored as E.164. */
@Injectable()
export class PhoneNumberParser {
  private readonly region?: CountryCode;

  constructor(config: CodeSettings) {
    this.region = config.defaultRegion as CountryCode | undefined;
  }

  parse(input: string): ParsedPhone {
    let text = input.trim();
    // "00" is international in every region (contract §9), also where the dialling prefix is another one (US: 011)
    const compact = text.replace(/[\s().-]/g, '');
    if (/^00[1-9]/.test(compact)) text = `+${compact.slice(2)}`;
    try {
      const parsed = parsePhoneNumberWithError(text, this.region ? { defaultCountry: this.region } : undefined);
      if (!parsed.isValid()) throw PhoneErrors.invalidNumber('it is not a valid number for its country');
      return { e164: parsed.number, country: parsed.country, type: parsed.getType() };
    } catch (error) {
      if (error instanceof ParseError) {
        throw PhoneErrors.invalidNumber(
          error.message === 'INVALID_COUNTRY'
            ? 'it must start with + and a country code (no DEFAULT_PHONE_REGION is configured)'
            : 'it cannot be read as a phone number',
        );
      }
      throw error;
    }
  }
}
