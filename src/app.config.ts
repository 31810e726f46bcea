import { AuthSettings } from './common/auth/auth.settings';
import { AppSettings } from './common/config/app.settings';
import { ConfigError } from './common/config/config-error';
import { Group, SettingsGroup } from './common/config/setting';
import { readSettings, settingsCatalogue } from './common/config/settings-reader';
import { unknownSettings } from './common/config/unknown-settings';
import { HttpSettings } from './common/http/http.settings';
import { RedisSettings } from './common/limits/redis.settings';
import { MetricsSettings } from './common/metrics/metrics.settings';
import { ThrottleSettings } from './common/throttle/throttle.settings';
import { DatabaseSettings } from './database/database.settings';
import { FraudSettings } from './phone/fraud/fraud.settings';
import { SpendSettings } from './phone/spend/spend.settings';
import { PreSendSettings } from './phone/presend/pre-send.settings';
import { CodeSettings } from './phone/phone-codes.settings';
import { LimitSettings } from './phone/phone-limits.settings';
import { RetentionSettings } from './phone/retention/retention.settings';
import { SmsSettings } from './phone/sms/sms.settings';
import { ChannelRoutesSettings } from './phone/channels/channel-routes.settings';
import { UsersSettings } from './users/users.settings';
import { WebhookSettings } from './phone/webhooks/webhook.settings';
import { VerifierSettings } from './phone/verify/verifier.settings';

/**
 * Every setting, group by group; each module declares and injects its own group (AppConfigModule
 * provides each by its class). The order is that of docs/configuration.md.
 */
@SettingsGroup('phone-verify')
export class AppConfig {
  @Group(() => AppSettings)
  readonly app: AppSettings;

  @Group(() => HttpSettings)
  readonly http: HttpSettings;

  @Group(() => ThrottleSettings)
  readonly throttle: ThrottleSettings;

  @Group(() => MetricsSettings)
  readonly metrics: MetricsSettings;

  @Group(() => DatabaseSettings)
  readonly database: DatabaseSettings;

  @Group(() => RedisSettings)
  readonly redis: RedisSettings;

  @Group(() => AuthSettings)
  readonly auth: AuthSettings;

  @Group(() => UsersSettings)
  readonly users: UsersSettings;

  @Group(() => CodeSettings)
  readonly codes: CodeSettings;

  @Group(() => LimitSettings)
  readonly limits: LimitSettings;

  @Group(() => SmsSettings)
  readonly sms: SmsSettings;

  @Group(() => ChannelRoutesSettings)
  readonly channelRoutes: ChannelRoutesSettings;

  @Group(() => FraudSettings)
  readonly fraud: FraudSettings;

  @Group(() => SpendSettings)
  readonly spend: SpendSettings;
  @Group(() => PreSendSettings)
  readonly presend: PreSendSettings;

  @Group(() => VerifierSettings)
  readonly verifier: VerifierSettings;

  /** The rules that span groups: a delegated verifier signs in with the Twilio account of the SMS settings. */
  problems(): string[] {
    return this.verifier.problemsWith(this.sms.twilio, this.sms.outbox.sendLeaseMs, {
      WHATSAPP_PROVIDER: this.sms.whatsapp.provider,
      VOICE_PROVIDER: this.sms.voice.provider,
    });
  }

  @Group(() => RetentionSettings)
  readonly retention: RetentionSettings;

  @Group(() => WebhookSettings)
  readonly webhooks: WebhookSettings;
}

/**
 * The one place every setting is checked at start: each group's validators and rules, with what
 * NODE_ENV asks of them. Returns typed, defaulted settings or throws a ConfigError naming every
 * bad variable (main.ts logs it as the one fatal line).
 */
export function validateEnvironment(env: Record<string, unknown>): AppConfig {
  const { config, problems } = readSettings(AppConfig, env, (read) => ({ production: read.app.production }));
  if (problems.length > 0) throw new ConfigError(problems);
  return config;
}

/** Variables of `env` that look like a setting and are none (`SMS_PROVDER`), each with the setting it is closest to. */
export function unknownSettingsIn(env: Record<string, unknown>): { name: string; closest: string }[] {
  return unknownSettings(
    env,
    settingsCatalogue(AppConfig).map((setting) => setting.env),
  );
}
