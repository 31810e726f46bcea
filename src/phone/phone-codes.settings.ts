import {
  Bool,
  DurationRange,
  IntRange,
  OneOf,
  Optional,
  Pattern,
  Setting,
  SettingsGroup,
  Text,
} from '../common/config/setting';
import type { SettingsContext } from '../common/config/settings-reader';

@SettingsGroup('Phone codes')
export class CodeSettings {
  @Setting(
    'CODE_HMAC_KEY',
    '`[keyId:]<base64, ≥ 32 bytes>`, comma-separated for rotation (the first signs, all verify); required in production',
    { default: 'generated in development' },
  )
  @Optional()
  @Pattern(
    /^(?:[A-Za-z0-9_-]{1,32}:)?[A-Za-z0-9+/=_-]{43,}(?:,(?:[A-Za-z0-9_-]{1,32}:)?[A-Za-z0-9+/=_-]{43,})*$/,
    '"[keyId:]<base64 key of at least 32 bytes>", comma-separated for rotation',
  )
  readonly hmacKey?: string = undefined;

  @Setting('CODE_HMAC_KEY_FILE', 'where the development key is generated (mode 0600) when `CODE_HMAC_KEY` is unset')
  @Text('a file path')
  readonly hmacKeyFile: string = './data/code-hmac.key';

  @Setting('PHONE_CODE_LENGTH', 'code length')
  @IntRange(6, 20)
  readonly length: number = 6;

  @Setting('PHONE_CODE_ALPHABET', '`digits` or `alphanumeric` (upper-case; checked case-insensitively)')
  @OneOf(['digits', 'alphanumeric'])
  readonly alphabet: 'digits' | 'alphanumeric' = 'digits';

  @Setting('PHONE_CODE_TTL', 'code lifetime')
  @DurationRange('1m', '24h')
  readonly ttlMs: number = 600_000;

  @Setting('PHONE_CODE_MAX_ATTEMPTS', 'attempts per code')
  @IntRange(1, 10)
  readonly maxAttempts: number = 5;

  @Setting('DEFAULT_PHONE_REGION', 'ISO country code for numbers written without a country code (e.g. `CH`)')
  @Optional()
  @Pattern(/^[A-Z]{2}$/, 'an ISO 3166-1 alpha-2 code such as CH')
  readonly defaultRegion?: string = undefined;

  @Setting(
    'SMS_TEST_NUMBERS',
    'test numbers with fixed codes, never sent an SMS and exempt from the send limits: `<number>=<code>;…`, a number in E.164 or a prefix ending in `*` that names the country code and at least 6 more digits (`+41790000001=123456;+41759990*=000000`)',
  )
  @Optional()
  @Text('number=code entries separated by ;')
  readonly testNumbers?: string = undefined;

  @Setting(
    'SMS_TEST_NUMBERS_IN_PRODUCTION',
    '`true` allows `SMS_TEST_NUMBERS` when `NODE_ENV=production` (e.g. for app-store review)',
  )
  @Bool()
  readonly testNumbersInProduction: boolean = false;

  problems({ production }: SettingsContext): string[] {
    return production && !this.hmacKey ? ['CODE_HMAC_KEY: required when NODE_ENV=production'] : [];
  }
}
