import type { ProviderSettings } from './sms.settings';
import { Optional, Pattern, Setting, SettingsGroup, ProviderTimeout } from '../../common/config/setting';

@SettingsGroup('SMS provider: webhook')
export class WebhookSettings implements ProviderSettings {
  @Setting('SMS_WEBHOOK_URL', 'webhook provider: the URL to POST to')
  @Optional()
  @Pattern(/^https?:\/\/[^\s/?#@]+(\/\S*)?$/, 'an http(s) URL without credentials')
  readonly url?: string = undefined;

  @Setting('SMS_WEBHOOK_TIMEOUT', 'webhook timeout')
  @ProviderTimeout()
  readonly timeoutMs: number = 5_000;

  @Setting(
    'SMS_WEBHOOK_SIGNING_KEY',
    'key for the `ZITADEL-Signature` header; receipts are checked with a key derived from it (docs/sms-providers.md)',
  )
  @Optional()
  @Pattern(/^\S{32,512}$/, '32 to 512 characters without spaces (e.g. openssl rand -hex 32)')
  readonly signingKey?: string = undefined;

  problemsWhenUsed(by: string, production: boolean): string[] {
    const problems: string[] = [];
    if (!this.url) {
      problems.push(`SMS_WEBHOOK_URL: required when ${by}`);
    } else if (!URL.canParse(this.url)) {
      problems.push('SMS_WEBHOOK_URL: SMS_WEBHOOK_URL must be an http(s) URL without credentials');
    } else if (production && !isHttpsOrLoopback(new URL(this.url))) {
      problems.push('SMS_WEBHOOK_URL: must be https:// when NODE_ENV=production (plain http only to localhost)');
    }
    if (production && !this.signingKey) {
      problems.push(`SMS_WEBHOOK_SIGNING_KEY: required when NODE_ENV=production and ${by}`);
    }
    return problems;
  }
}

/** The code travels in the webhook's body: TLS, unless it never leaves the machine. */
function isHttpsOrLoopback(url: URL): boolean {
  return url.protocol === 'https:' || ['localhost', '127.0.0.1', '[::1]'].includes(url.hostname);
}
