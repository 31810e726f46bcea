import { IsOptional } from 'class-validator';
import { DurationRange, IntRange, Optional, Pattern, Setting, SettingsGroup } from '../common/config/setting';

@SettingsGroup('Send and check limits')
export class LimitSettings {
  @Setting('PHONE_MAX_FAILED_PER_DAY', 'failed checks per user per rolling 24 h')
  @IntRange(1, 1000)
  readonly maxFailedPerDay: number = 15;

  @Setting('SMS_RESEND_COOLDOWN', 'time between two SMS to one user')
  @DurationRange('0s', '1h')
  readonly resendCooldownMs: number = 60_000;

  @Setting('SMS_MAX_PER_USER_PER_HOUR', 'SMS per user per rolling hour')
  @IntRange(1, 100)
  readonly maxPerUserPerHour: number = 5;

  @Setting('SMS_MAX_PER_NUMBER_PER_DAY', 'SMS per number and account (the user whose phone it is) per rolling day')
  @IntRange(1, 1000)
  readonly maxPerNumberPerDay: number = 10;

  @Setting(
    'SMS_NUMBER_CEILING_PER_DAY',
    'SMS per number per rolling day, all accounts together: a high bound against pumping (at least `SMS_MAX_PER_NUMBER_PER_DAY`)',
    { default: '5 × `SMS_MAX_PER_NUMBER_PER_DAY`' },
  )
  @IsOptional()
  @IntRange(1, 100_000)
  readonly numberCeilingPerDay?: number = undefined;

  @Setting(
    'SMS_BACKOFF_BASE',
    'back-off per number and account: the first wait once the free sends are used, doubled for each further send; `0s` turns the back-off off',
  )
  @DurationRange('0s', '1h')
  readonly backoffBaseMs: number = 60_000;

  @Setting(
    'SMS_BACKOFF_FREE_SENDS',
    'SMS to one number for one account, without a verification of it, before the back-off starts',
  )
  @IntRange(1, 100)
  readonly backoffFreeSends: number = 3;

  @Setting('SMS_BACKOFF_MAX', 'longest back-off wait (at least `SMS_BACKOFF_BASE`)')
  @DurationRange('1m', '24h')
  readonly backoffMaxMs: number = 3_600_000;

  @Setting('SMS_ALLOWED_COUNTRIES', 'comma-separated ISO country codes that may receive SMS', { default: 'all' })
  @Optional()
  @Pattern(/^[A-Z]{2}(\s*,\s*[A-Z]{2})*$/, 'comma-separated ISO 3166-1 alpha-2 codes such as CH,DE')
  readonly allowedCountries?: string = undefined;

  /** The number-wide daily ceiling: unset, five accounts' caps. */
  get numberCeiling(): number {
    return this.numberCeilingPerDay ?? 5 * this.maxPerNumberPerDay;
  }

  problems(): string[] {
    const problems: string[] = [];
    if (this.numberCeilingPerDay !== undefined && this.numberCeilingPerDay < this.maxPerNumberPerDay) {
      problems.push('SMS_NUMBER_CEILING_PER_DAY: must be at least SMS_MAX_PER_NUMBER_PER_DAY (one account’s cap)');
    }
    if (this.backoffBaseMs > this.backoffMaxMs) {
      problems.push('SMS_BACKOFF_MAX: must be at least SMS_BACKOFF_BASE (the first wait)');
    }
    return problems;
  }
}
