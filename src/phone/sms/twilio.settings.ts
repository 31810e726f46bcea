import type { ProviderSettings } from './sms.settings';
import { Optional, Pattern, Setting, SettingsGroup, ProviderTimeout } from '../../common/config/setting';

@SettingsGroup('SMS provider: Twilio')
export class TwilioSettings implements ProviderSettings {
  @Setting('TWILIO_BASE_URL', 'Twilio API base URL')
  @Pattern(/^https?:\/\/[^\s/?#@]+\/?$/, 'an http(s) origin such as https://api.twilio.com')
  readonly baseUrl: string = 'https://api.twilio.com';

  @Setting('TWILIO_ACCOUNT_SID', 'Twilio account SID')
  @Optional()
  @Pattern(/^AC[0-9a-fA-F]{32}$/, '"AC" followed by 32 hex digits')
  readonly accountSid?: string = undefined;

  @Setting('TWILIO_AUTH_TOKEN', 'Twilio auth token')
  @Optional()
  @Pattern(/^\S{16,256}$/, '16 to 256 characters without spaces')
  readonly authToken?: string = undefined;

  @Setting('TWILIO_FROM_NUMBER', 'sender number (or use the messaging service SID)')
  @Optional()
  @Pattern(
    /^(\+[1-9]\d{1,14}|(?=[A-Za-z0-9 ]*[A-Za-z])[A-Za-z0-9 ]{1,11})$/,
    'an E.164 number such as +41791234567 or an alphanumeric sender id of up to 11 characters',
  )
  readonly fromNumber?: string = undefined;

  @Setting('TWILIO_MESSAGING_SERVICE_SID', 'Twilio messaging service SID (instead of the from number)')
  @Optional()
  @Pattern(/^MG[0-9a-fA-F]{32}$/, '"MG" followed by 32 hex digits')
  readonly messagingServiceSid?: string = undefined;

  @Setting('TWILIO_TIMEOUT', 'Twilio request timeout')
  @ProviderTimeout()
  readonly timeoutMs: number = 5_000;

  problemsWhenUsed(by: string, production: boolean): string[] {
    const problems: string[] = [];
    if (!this.accountSid) problems.push(`TWILIO_ACCOUNT_SID: required when ${by}`);
    if (!this.authToken) problems.push(`TWILIO_AUTH_TOKEN: required when ${by}`);
    if (!this.fromNumber === !this.messagingServiceSid) {
      problems.push('TWILIO_FROM_NUMBER: set exactly one of TWILIO_FROM_NUMBER and TWILIO_MESSAGING_SERVICE_SID');
    }
    if (production && !this.baseUrl.startsWith('https://')) {
      problems.push('TWILIO_BASE_URL: must be https:// when NODE_ENV=production');
    }
    return problems;
  }
}
