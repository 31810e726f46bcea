import { Global, Injectable, Module } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import type { DestinationStream } from 'pino';
import { validateEnvironment } from '../../app.config';
import { AppConfigModule } from '../../common/config/app-config.module';
import { DependencyOutages } from '../../common/errors/dependency-outages';
import { IdGenerator } from '../../common/ids/id-generator';
import { BackoffStore } from '../../common/limits/backoff-store';
import { LimitsModule } from '../../common/limits/limits.module';
import { LoggingModule } from '../../common/logging/logging.module';
import { Metrics } from '../../common/metrics/metrics';
import { DatabaseModule, SQLITE_INSTANCE_LOCK } from '../../database/database.module';
import { backoffKeyPrefix } from '../phone-limits';
import { PhoneNumberParser } from '../phone-number';

/** An operator's command: forget the SMS back-off of a number, for every account that sent to it. */
@Injectable()
export class SmsBackoffAdmin {
  constructor(
    private readonly numbers: PhoneNumberParser,
    private readonly backoff: BackoffStore,
  ) {}

  /** `number` as a user would type it (E.164, or national with DEFAULT_PHONE_REGION); returns its E.164 and the records forgotten. */
  async clear(number: string): Promise<{ e164: string; cleared: number }> {
    const { e164 } = this.numbers.parse(number);
    return { e164, cleared: await this.backoff.clear(backoffKeyPrefix(e164)) };
  }
}

/** What the limit stores need, and no more: no listener, worker or node-id lease is started. */
@Global()
@Module({
  providers: [
    Metrics,
    DependencyOutages,
    // the database limit store draws ids only to count hits, which clearing never does
    { provide: IdGenerator, useValue: null },
    // it opens the SQLite file beside the running service, which holds the file's instance lock
    { provide: SQLITE_INSTANCE_LOCK, useValue: false },
  ],
  exports: [Metrics, DependencyOutages, IdGenerator, SQLITE_INSTANCE_LOCK],
})
class AdminSupportModule {}

@Module({})
export class SmsBackoffAdminModule {
  static forRoot(env: Record<string, string | undefined>, logStream?: DestinationStream) {
    return {
      module: SmsBackoffAdminModule,
      imports: [
        AppConfigModule.forRoot(validateEnvironment(env)),
        LoggingModule.forRoot(logStream),
        AdminSupportModule,
        DatabaseModule,
        LimitsModule,
      ],
      providers: [PhoneNumberParser, SmsBackoffAdmin],
    };
  }
}

/**
 * `node scripts/clear-sms-backoff.js <number>…`: clears each number's back-off where the running
 * service keeps it (the database of DATABASE_URL, or Redis with REDIS_URL), with the service's own
 * settings (environment and ENV_FILE). Returns the exit code; writes one line per number.
 */
export async function clearSmsBackoff(
  numbers: string[],
  env: Record<string, string | undefined>,
  out: (line: string) => void,
  logStream?: DestinationStream,
): Promise<number> {
  if (numbers.length === 0) {
    out('usage: clear-sms-backoff <number> [<number>…]  (E.164, such as +41791234567)');
    return 2;
  }
  const app = await NestFactory.createApplicationContext(SmsBackoffAdminModule.forRoot(env, logStream), {
    logger: false,
    abortOnError: false,
  });
  let code = 0;
  try {
    const admin = app.get(SmsBackoffAdmin);
    for (const number of numbers) {
      try {
        const { e164, cleared } = await admin.clear(number);
        out(`${e164}: back-off cleared (${cleared} record${cleared === 1 ? '' : 's'})`);
      } catch (error) {
        code = 1;
        out(`${number}: ${error instanceof Error ? error.message : String(error)}`);
      }
    }
  } finally {
    await app.close();
  }
  return code;
}
