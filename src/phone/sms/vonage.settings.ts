import type { ProviderSettings } from './sms.settings';
import { OneOf, Optional, Pattern, ProviderTimeout, Setting, SettingsGroup } from '../../common/config/setting';

@SettingsGroup('SMS provider: Vonage')
export class VonageSettings implements ProviderSettings {
  @Setting('VONAGE_BASE_URL', 'Vonage SMS API base URL')
  @Pattern(/^https?:\/\/[^\s/?#@]+\/?$/, 'an http(s) origin such as https://rest.nexmo.com')
  readonly baseUrl: string = 'https://rest.nexmo.com';

  @Setting('VONAGE_API_KEY', 'Vonage API key')
  @Optional()
  @Pattern(/^[0-9a-zA-Z]{6,32}$/, '6 to 32 letters and digits')
  readonly apiKey?: string = undefined;

  @Setting('VONAGE_API_SECRET', 'Vonage API secret (or sign requests with `VONAGE_SIGNATURE_SECRET`)')
  @Optional()
  @Pattern(/^\S{8,256}$/, '8 to 256 characters without spaces')
  readonly apiSecret?: string = undefined;

  @Setting(
    'VONAGE_SIGNATURE_SECRET',
    'Vonage signature secret: signs requests without `VONAGE_API_SECRET`, verifies receipts (refused without it)',
  )
  @Optional()
  @Pattern(/^\S{16,256}$/, '16 to 256 characters without spaces')
  readonly signatureSecret?: string = undefined;

  @Setting('VONAGE_SIGNATURE_METHOD', '`md5hash`, `md5`, `sha1`, `sha256` or `sha512`, as set in the Vonage dashboard')
  @OneOf(
    ['md5hash', 'md5', 'sha1', 'sha256', 'sha512'],
    'md5hash, md5, sha1, sha256 or sha512 (as set in the Vonage dashboard)',
  )
  readonly signatureMethod: 'md5hash' | 'md5' | 'sha1' | 'sha256' | 'sha512' = 'sha256';

  @Setting('VONAGE_FROM', 'Vonage sender: a number or an alphanumeric sender id')
  @Optional()
  @Pattern(
    /^(\+[1-9]\d{1,14}|(?=[A-Za-z0-9 ]*[A-Za-z])[A-Za-z0-9 ]{1,11})$/,
    'an E.164 number such as +41791234567 or an alphanumeric sender id of up to 11 characters',
  )
  readonly from?: string = undefined;

  @Setting('VONAGE_TIMEOUT', 'Vonage request timeout')
  @ProviderTimeout()
  readonly timeoutMs: number = 5_000;

  problemsWhenUsed(by: string, production: boolean): string[] {
    const problems: string[] = [];
    if (!this.apiKey) problems.push(`VONAGE_API_KEY: required when ${by}`);
    if (!this.apiSecret && !this.signatureSecret) {
      problems.push(`VONAGE_API_SECRET: VONAGE_API_SECRET or VONAGE_SIGNATURE_SECRET is required when ${by}`);
    }
    if (!this.from) problems.push(`VONAGE_FROM: required when ${by}`);
    if (production && !this.baseUrl.startsWith('https://')) {
      problems.push('VONAGE_BASE_URL: must be https:// when NODE_ENV=production');
    }
    return problems;
  }
}
