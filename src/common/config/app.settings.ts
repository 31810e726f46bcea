import { IsOptional } from 'class-validator';
import { DurationRange, IntRange, OneOf, Setting, SettingsGroup, Text } from './setting';

@SettingsGroup('The process')
export class AppSettings {
  @Setting('ENV_FILE', 'file of settings read at start, if it exists (not read from the file itself); empty: none')
  @Text('a file path, or nothing')
  readonly envFile: string = '.env';

  @Setting(
    'NODE_ENV',
    '`development`, `production` or `test`; production requires `CODE_HMAC_KEY` and refuses `SMS_PROVIDER=console` and `SMS_TEST_NUMBERS` (unless `SMS_TEST_NUMBERS_IN_PRODUCTION=true`)',
  )
  @OneOf(['development', 'production', 'test'])
  readonly nodeEnv: 'development' | 'production' | 'test' = 'development';

  @Setting('LOG_LEVEL', '`fatal`, `error`, `warn`, `info`, `debug`, `trace` or `silent`; logs are JSON lines')
  @OneOf(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'])
  readonly logLevel: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent' = 'info';

  @Setting('NODE_ID', 'node id for ID generation; when unset each instance leases a free one from the database', {
    default: 'leased',
  })
  @IsOptional()
  @IntRange(0, 1023)
  readonly nodeId?: number = undefined;

  @Setting(
    'SHUTDOWN_TIMEOUT',
    'how long a stop on SIGTERM/SIGINT may take; connections still open at 80 % of it are cut',
  )
  @DurationRange('1s', '10m')
  readonly shutdownTimeoutMs: number = 10_000;

  get production(): boolean {
    return this.nodeEnv === 'production';
  }
}
