import { IsOptional } from 'class-validator';
import { DurationRange, IntRange, Optional, Pattern, Setting, SettingsGroup } from '../../common/config/setting';

@SettingsGroup(
  'SMS outbox',
  'A code sent by SMS waits, encrypted, in `sms_outbox` until a provider takes it; failed sends are retried ([ADR 0014](adr/0014-sms-outbox.md)).',
)
export class SmsOutboxSettings {
  @Setting('SMS_OUTBOX_KEY', 'AES-256-GCM key for codes in the outbox (base64, 32 bytes)', { default: 'derived' })
  @Optional()
  @Pattern(/^[A-Za-z0-9+/=_-]{43,44}$/, '32 bytes, base64-encoded')
  readonly key?: string = undefined;

  @Setting(
    'SMS_MAX_ATTEMPTS',
    'optional cap on delivery attempts per message; unset, attempts go on until the code expires or `SMS_MAX_AGE` passes',
  )
  @IsOptional()
  @IntRange(1, 1000)
  readonly maxAttempts?: number = undefined;

  @Setting('SMS_MAX_AGE', 'give up delivering after this long (never after the code expires)')
  @DurationRange('1m', '24h')
  readonly maxAgeMs: number = 600_000;

  @Setting('SMS_RETRY_BASE', 'first retry delay, doubled per attempt with jitter up to `SMS_RETRY_MAX_DELAY`')
  @DurationRange('100ms', '1m')
  readonly retryBaseMs: number = 2_000;

  @Setting('SMS_RETRY_MAX_DELAY', 'longest pause between two attempts of a message')
  @DurationRange('1s', '1h')
  readonly retryMaxDelayMs: number = 60_000;

  @Setting('SMS_SEND_CONCURRENCY', 'messages one instance sends at the same time')
  @IntRange(1, 256)
  readonly sendConcurrency: number = 16;

  @Setting('SMS_POLL_INTERVAL', 'how often the worker looks for due messages besides being woken by commits')
  @DurationRange('50ms', '1m')
  readonly pollIntervalMs: number = 1_000;

  @Setting('SMS_SEND_LEASE', 'how long an instance owns a message it is delivering')
  @DurationRange('5s', '10m')
  readonly sendLeaseMs: number = 60_000;
}
