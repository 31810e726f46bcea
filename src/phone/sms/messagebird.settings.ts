import type { ProviderSettings } from './sms.settings';
import { Optional, Pattern, ProviderTimeout, Setting, SettingsGroup } from '../../common/config/setting';

@SettingsGroup('SMS provider: MessageBird')
export class MessageBirdSettings implements ProviderSettings {
  @Setting('MESSAGEBIRD_BASE_URL', 'MessageBird REST API base URL')
  @Pattern(/^https?:\/\/[^\s/?#@]+\/?$/, 'an http(s) origin such as https://rest.messagebird.com')
  readonly baseUrl: string = 'https://rest.messagebird.com';

  @Setting('MESSAGEBIRD_ACCESS_KEY', 'MessageBird access key')
  @Optional()
  @Pattern(/^\S{16,256}$/, '16 to 256 characters without spaces')
  readonly accessKey?: string = undefined;

  @Setting('MESSAGEBIRD_SIGNING_KEY', 'MessageBird signing key: verifies status reports (refused without it)')
  @Optional()
  @Pattern(/^\S{16,256}$/, '16 to 256 characters without spaces')
  readonly signingKey?: string = undefined;

  @Setting('MESSAGEBIRD_ORIGINATOR', 'MessageBird sender: a number or an alphanumeric sender id')
  @Optional()
  @Pattern(
    /^(\+[1-9]\d{1,14}|(?=[A-Za-z0-9 ]*[A-Za-z])[A-Za-z0-9 ]{1,11})$/,
    'an E.164 number such as +41791234567 or an alphanumeric sender id of up to 11 characters',
  )
  readonly originator?: string = undefined;

  @Setting('MESSAGEBIRD_TIMEOUT', 'MessageBird request timeout')
  @ProviderTimeout()
  readonly timeoutMs: number = 5_000;

  problemsWhenUsed(by: string, production: boolean): string[] {
    const problems: string[] = [];
    if (!this.accessKey) problems.push(`MESSAGEBIRD_ACCESS_KEY: required when ${by}`);
    if (!this.originator) problems.push(`MESSAGEBIRD_ORIGINATOR: required when ${by}`);
    if (production && !this.baseUrl.startsWith('https://')) {
      problems.push('MESSAGEBIRD_BASE_URL: must be https:// when NODE_ENV=production');
    }
    return problems;
  }
}
