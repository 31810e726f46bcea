import { OneOf, Optional, Pattern, ProviderTimeout, Setting, SettingsGroup } from '../../common/config/setting';
import type { SettingsContext } from '../../common/config/settings-reader';

export const PHONE_VERIFIERS = ['local', 'twilio-verify', 'plivo-verify'] as const;
export type PhoneVerifierName = (typeof PHONE_VERIFIERS)[number];

/** The Twilio account settings that Twilio Verify shares with the Twilio SMS sender. */
export interface TwilioAccount {
  readonly accountSid?: string;
  readonly authToken?: string;
}

@SettingsGroup(
  'Delegated verification',
  "Who draws and checks the codes: this service (`local`), or a provider's verification API that sends its own code and checks it ([Delegated verification](sms-providers.md#delegated-verification)). The service's own limits apply either way.",
)
export class VerifierSettings {
  @Setting('PHONE_VERIFIER', '`local`, `twilio-verify` or `plivo-verify`')
  @OneOf(PHONE_VERIFIERS)
  readonly verifier: PhoneVerifierName = 'local';

  @Setting('TWILIO_VERIFY_BASE_URL', 'Twilio Verify API base URL')
  @Pattern(/^https?:\/\/[^\s/?#@]+\/?$/, 'an http(s) origin such as https://verify.twilio.com')
  readonly twilioBaseUrl: string = 'https://verify.twilio.com';

  @Setting(
    'TWILIO_VERIFY_SERVICE_SID',
    'Twilio Verify service SID (the account is `TWILIO_ACCOUNT_SID` / `TWILIO_AUTH_TOKEN`)',
  )
  @Optional()
  @Pattern(/^VA[0-9a-fA-F]{32}$/, '"VA" followed by 32 hex digits')
  readonly twilioServiceSid?: string = undefined;

  @Setting('TWILIO_VERIFY_CHANNEL', 'how Twilio Verify sends its code: `sms`, `call` or `whatsapp`')
  @OneOf(['sms', 'call', 'whatsapp'])
  readonly twilioChannel: 'sms' | 'call' | 'whatsapp' = 'sms';

  @Setting('TWILIO_VERIFY_TIMEOUT', 'Twilio Verify request timeout')
  @ProviderTimeout()
  readonly twilioTimeoutMs: number = 5_000;

  @Setting('PLIVO_VERIFY_BASE_URL', 'Plivo API base URL')
  @Pattern(/^https?:\/\/[^\s/?#@]+\/?$/, 'an http(s) origin such as https://api.plivo.com')
  readonly plivoBaseUrl: string = 'https://api.plivo.com';

  @Setting('PLIVO_AUTH_ID', 'Plivo auth ID')
  @Optional()
  @Pattern(/^[A-Za-z0-9]{20}$/, '20 letters and digits')
  readonly plivoAuthId?: string = undefined;

  @Setting('PLIVO_AUTH_TOKEN', 'Plivo auth token')
  @Optional()
  @Pattern(/^\S{16,256}$/, '16 to 256 characters without spaces')
  readonly plivoAuthToken?: string = undefined;

  @Setting('PLIVO_VERIFY_APP_UUID', "Plivo Verify application UUID (unset: the account's default application)")
  @Optional()
  @Pattern(/^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/, 'a UUID')
  readonly plivoAppUuid?: string = undefined;

  @Setting('PLIVO_VERIFY_CHANNEL', 'how Plivo Verify sends its code: `sms` or `voice`')
  @OneOf(['sms', 'voice'])
  readonly plivoChannel: 'sms' | 'voice' = 'sms';

  @Setting('PLIVO_VERIFY_TIMEOUT', 'Plivo Verify request timeout')
  @ProviderTimeout()
  readonly plivoTimeoutMs: number = 5_000;

  get delegated(): boolean {
    return this.verifier !== 'local';
  }

  /** The provider's request timeout (0 for local): a start must end before its outbox lease does. */
  get timeoutMs(): number {
    if (this.verifier === 'twilio-verify') return this.twilioTimeoutMs;
    return this.verifier === 'plivo-verify' ? this.plivoTimeoutMs : 0;
  }

  /** The provider's own settings; the Twilio account comes from the Twilio SMS settings (see AppConfig.problems). */
  problems({ production }: SettingsContext): string[] {
    const problems: string[] = [];
    const by = `PHONE_VERIFIER=${this.verifier}`;
    if (this.verifier === 'twilio-verify') {
      if (!this.twilioServiceSid) problems.push(`TWILIO_VERIFY_SERVICE_SID: required when ${by}`);
      if (production && !this.twilioBaseUrl.startsWith('https://')) {
        problems.push('TWILIO_VERIFY_BASE_URL: must be https:// when NODE_ENV=production');
      }
    }
    if (this.verifier === 'plivo-verify') {
      if (!this.plivoAuthId) problems.push(`PLIVO_AUTH_ID: required when ${by}`);
      if (!this.plivoAuthToken) problems.push(`PLIVO_AUTH_TOKEN: required when ${by}`);
      if (production && !this.plivoBaseUrl.startsWith('https://')) {
        problems.push('PLIVO_VERIFY_BASE_URL: must be https:// when NODE_ENV=production');
      }
    }
    return problems;
  }

  /**
   * With Twilio Verify: the Twilio account it signs in with. With any delegated verifier: a start
   * that ends within the outbox's lease, and no channel sender of ours (the provider sends its own
   * code on its own channel: one of ours would send a code that never verifies).
   */
  problemsWith(twilio: TwilioAccount, sendLeaseMs: number, channels: Record<string, string | undefined>): string[] {
    const problems: string[] = [];
    const by = `PHONE_VERIFIER=${this.verifier}`;
    for (const [setting, value] of Object.entries(channels)) {
      if (this.delegated && value) {
        problems.push(
          `${setting}: not used with ${by}: the provider sends its own code (set its channel setting instead)`,
        );
      }
    }
    if (this.verifier === 'twilio-verify') {
      if (!twilio.accountSid) problems.push(`TWILIO_ACCOUNT_SID: required when ${by}`);
      if (!twilio.authToken) problems.push(`TWILIO_AUTH_TOKEN: required when ${by}`);
    }
    if (this.delegated && this.timeoutMs + 5_000 > sendLeaseMs) {
      problems.push(
        `SMS_SEND_LEASE: must exceed the verifier's timeout plus 5s (${(this.timeoutMs + 5_000) / 1000}s), ` +
          'or a slow start could be taken over and sent twice',
      );
    }
    return problems;
  }
}
