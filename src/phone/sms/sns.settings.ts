import type { ProviderSettings } from './sms.settings';
import { Optional, Pattern, ProviderTimeout, Setting, SettingsGroup } from '../../common/config/setting';

@SettingsGroup('SMS provider: Amazon SNS')
export class SnsSettings implements ProviderSettings {
  @Setting('SNS_REGION', 'Amazon SNS region (`eu-central-1`)')
  @Optional()
  @Pattern(/^[a-z]{2}(-[a-z]+)+-\d{1,2}$/, 'an AWS region such as eu-central-1')
  readonly region?: string = undefined;

  @Setting('SNS_ENDPOINT', 'SNS API endpoint (a VPC endpoint, or a local fake)', { default: "the region's" })
  @Optional()
  @Pattern(/^https?:\/\/[^\s/?#@]+\/?$/, 'an http(s) origin')
  readonly endpoint?: string = undefined;

  @Setting('SNS_ACCESS_KEY_ID', "AWS access key id (with `SNS_SECRET_ACCESS_KEY`; neither: the SDK's default chain)")
  @Optional()
  @Pattern(/^[A-Z0-9]{16,128}$/, 'an AWS access key id (16 to 128 upper-case letters and digits)')
  readonly accessKeyId?: string = undefined;

  @Setting('SNS_SECRET_ACCESS_KEY', 'AWS secret access key')
  @Optional()
  @Pattern(/^\S{16,128}$/, '16 to 128 characters without spaces')
  readonly secretAccessKey?: string = undefined;

  @Setting('SNS_SENDER_ID', 'SNS sender id (1–11 letters and digits, no spaces)')
  @Optional()
  @Pattern(
    /^(?=[A-Za-z0-9]*[A-Za-z])[A-Za-z0-9]{1,11}$/,
    '1 to 11 letters and digits with at least one letter (no spaces)',
  )
  readonly senderId?: string = undefined;

  @Setting('SNS_TIMEOUT', 'SNS request timeout')
  @ProviderTimeout()
  readonly timeoutMs: number = 5_000;

  problemsWhenUsed(by: string, production: boolean): string[] {
    const problems: string[] = [];
    if (!this.region) problems.push(`SNS_REGION: required when ${by}`);
    if (!this.accessKeyId !== !this.secretAccessKey) {
      problems.push(
        'SNS_ACCESS_KEY_ID: set both SNS_ACCESS_KEY_ID and SNS_SECRET_ACCESS_KEY, or neither (the default chain)',
      );
    }
    if (production && this.endpoint && !this.endpoint.startsWith('https://')) {
      problems.push('SNS_ENDPOINT: must be https:// when NODE_ENV=production');
    }
    return problems;
  }
}
