import { Transform } from 'class-transformer';
import { IsNumber, Max, Min } from 'class-validator';
import {
  DurationRange,
  IntRange,
  mustBe,
  OneOf,
  Optional,
  Pattern,
  Rule,
  Setting,
  SettingsGroup,
  Text,
} from '../../common/config/setting';
import { parseCidr } from '../../common/throttle/address-set';

const RATIO = 'a number between 0 and 1, such as 0.2';

@SettingsGroup(
  'SMS pumping guard',
  'Judges each SMS by its destination country, number prefix and client address ([SMS providers](sms-providers.md), "Pumping guard").',
)
export class FraudSettings {
  @Setting('SMS_FRAUD_MODE', '`off`, `record` (decide, log and count, block nothing) or `enforce` (block)')
  @OneOf(['off', 'record', 'enforce'], 'off, record or enforce')
  readonly mode: 'off' | 'record' | 'enforce' = 'record';

  @Setting('SMS_FRAUD_COUNTRY_FLOOR', 'unverified SMS per destination country per 24 h always tolerated')
  @IntRange(1, 1_000_000)
  readonly countryFloor: number = 20;

  @Setting('SMS_FRAUD_COUNTRY_HOURLY_FLOOR', 'the same per hour')
  @IntRange(1, 1_000_000)
  readonly countryHourlyFloor: number = 3;

  @Setting(
    'SMS_FRAUD_PREFIX_FLOOR',
    'unverified SMS per number prefix (the number without its last 4 digits) per 24 h always tolerated',
  )
  @IntRange(1, 1_000_000)
  readonly prefixFloor: number = 10;

  @Setting('SMS_FRAUD_PREFIX_HOURLY_FLOOR', 'the same per hour')
  @IntRange(1, 1_000_000)
  readonly prefixHourlyFloor: number = 3;

  @Setting('SMS_FRAUD_ADDRESS_FLOOR', 'unverified SMS per client address (IPv6: per /64) per 24 h always tolerated')
  @IntRange(1, 1_000_000)
  readonly addressFloor: number = 10;

  @Setting(
    'SMS_FRAUD_ADDRESS_MAX_COUNTRIES',
    'destination countries a client address may send to in 24 h without ever verifying there',
  )
  @IntRange(1, 250)
  readonly addressMaxCountries: number = 3;

  @Setting(
    'SMS_FRAUD_VERIFIED_RATIO',
    'share of the verified traffic that may go unverified: it raises each threshold above its floor',
  )
  @Rule(
    RATIO,
    Transform(({ value }: { value: unknown }) =>
      typeof value === 'string' && /^\s*\d+(\.\d+)?\s*$/.test(value) ? Number(value) : value,
    ),
    IsNumber({}, mustBe(RATIO)),
    Min(0, mustBe(RATIO)),
    Max(1, mustBe(RATIO)),
  )
  readonly verifiedRatio: number = 0.2;

  @Setting('SMS_FRAUD_HOURLY_DIVISOR', 'an hourly threshold is at least the daily one divided by this')
  @IntRange(1, 24)
  readonly hourlyDivisor: number = 6;

  @Setting('SMS_FRAUD_REMEMBER_VERIFIED', 'how long a verified number is remembered (it always passes the guard)')
  @DurationRange('1d', '3650d')
  readonly rememberVerifiedMs: number = 365 * 86_400_000;

  @Setting(
    'SMS_FRAUD_COUNTER_RETENTION',
    "how long the pumping guard's hourly counters are kept (at least 15d: its rules look back 14 days)",
  )
  @DurationRange('15d', '3650d')
  readonly counterRetentionMs: number = 15 * 86_400_000;

  @Setting('SMS_FRAUD_ALLOWED_ADDRESSES', 'client addresses the guard never judges: comma-separated IPs or CIDRs')
  @Optional()
  @Text('comma-separated IP addresses or CIDRs')
  readonly allowedAddresses?: string = undefined;

  @Setting(
    'SMS_FRAUD_ALLOWED_COUNTRIES',
    'destination countries the guard never judges: comma-separated ISO country codes',
  )
  @Optional()
  @Pattern(/^[A-Z]{2}(\s*,\s*[A-Z]{2})*$/, 'comma-separated ISO 3166-1 alpha-2 codes such as CH,DE')
  readonly allowedCountries?: string = undefined;

  @Setting(
    'SMS_FRAUD_ALLOWED_NUMBERS',
    'numbers the guard never judges: comma-separated E.164 numbers or prefixes ending in `*` (`+4179555*`)',
  )
  @Optional()
  @Pattern(
    /^\+[1-9]\d{0,14}\*?(\s*,\s*\+[1-9]\d{0,14}\*?)*$/,
    'comma-separated E.164 numbers or prefixes ending in *, such as +41791234567,+4179555*',
  )
  readonly allowedNumbers?: string = undefined;

  problems(): string[] {
    if (!this.allowedAddresses) return [];
    const bad = this.allowedAddresses
      .split(',')
      .map((entry) => entry.trim())
      .filter((entry) => parseCidr(entry) === undefined);
    return bad.length === 0
      ? []
      : [`SMS_FRAUD_ALLOWED_ADDRESSES: not an IP address or CIDR: ${bad.map((b) => JSON.stringify(b)).join(', ')}`];
  }
}
