import { Global, Inject, Injectable, Module, OnApplicationShutdown, Optional } from '@nestjs/common';
import { Redis } from 'ioredis';
import { AppConfig } from '../config/app-config.module';
import { TransactionRunner } from '../database/transaction-runner';
import { IdGenerator } from '../ids/id-generator';
import { DatabaseLimitStore } from './database-limit-store';
import { LimitStore } from './limit-store';
import { RedisLimitStore } from './redis-limit-store';

export const REDIS = Symbol('redis');

/** Closes the Redis connection with the app. */
@Injectable()
class RedisCloser implements OnApplicationShutdown {
  constructor(@Optional() @Inject(REDIS) private readonly redis?: Redis | null) {}

  async onApplicationShutdown(): Promise<void> {
    await this.redis?.quit().catch(() => undefined);
  }
}

@Global()
@Module({
  providers: [
    {
      provide: REDIS,
      inject: [AppConfig],
      useFactory: (config: AppConfig): Redis | null =>
        config.REDIS_URL ? new Redis(config.REDIS_URL, { maxRetriesPerRequest: 2, enableOfflineQueue: true }) : null,
    },
    {
      provide: LimitStore,
      inject: [REDIS, TransactionRunner, IdGenerator],
      useFactory: (redis: Redis | null, tx: TransactionRunner, ids: IdGenerator): LimitStore =>
        redis ? new RedisLimitStore(redis) : new DatabaseLimitStore(tx, ids),
    },
    RedisCloser,
  ],
  exports: [LimitStore, REDIS],
})
export class LimitsModule {}
