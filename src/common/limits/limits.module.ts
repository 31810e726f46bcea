import { Global, Inject, Injectable, Module, OnApplicationShutdown, Optional } from '@nestjs/common';
import type { RedisClient } from './redis-connection';
import { RedisSettings } from './redis.settings';
import { Database } from '../../database/sql';
import { DependencyError } from '../errors/dependency-error';
import { DependencyOutages } from '../errors/dependency-outages';
import { IdGenerator } from '../ids/id-generator';
import { BackoffStore } from './backoff-store';
import { DatabaseBackoffStore } from './database-backoff-store';
import { DatabaseLimitStore } from './database-limit-store';
import { LimitBackoffsRepository } from './limit-backoffs.repository';
import { LimitHitsRepository } from './limit-hits.repository';
import { LimitStore } from './limit-store';
import { LimitMetrics } from './limit.metrics';
import { RedisBackoffStore } from './redis-backoff-store';
import { RedisLimitStore } from './redis-limit-store';
import { closeRedisClient, createRedisClient } from './redis-connection';

export { redisOptions } from './redis-connection';

export const REDIS = Symbol('redis');

async function connectRedis(config: RedisSettings, outages: DependencyOutages): Promise<RedisClient> {
  const redis = createRedisClient(config.url!, config.timeoutMs);
  // reconnect attempts fail quietly here: an outage is logged once, by the calls that fail
  redis.on('error', () => undefined);
  redis.on('ready', () => outages.succeeded('redis'));
  // start serving once connected, or after the deadline with Redis still away (calls then answer 503)
  await new Promise<void>((resolve) => {
    const timer = setTimeout(done, config.timeoutMs * 2);
    function done() {
      clearTimeout(timer);
      redis.off('ready', done);
      resolve();
    }
    redis.once('ready', done);
  });
  if (redis.status !== 'ready')
    outages.failed(new DependencyError('redis', new Error(`not connected (${redis.status})`)));
  return redis;
}

/** Closes the Redis connection with the app. */
@Injectable()
class RedisCloser implements OnApplicationShutdown {
  constructor(@Optional() @Inject(REDIS) private readonly redis?: RedisClient | null) {}

  async onApplicationShutdown(): Promise<void> {
    if (this.redis) await closeRedisClient(this.redis);
  }
}

@Global()
@Module({
  providers: [
    {
      provide: REDIS,
      inject: [RedisSettings, DependencyOutages],
      useFactory: (config: RedisSettings, outages: DependencyOutages): Promise<RedisClient> | null =>
        config.url ? connectRedis(config, outages) : null,
    },
    {
      provide: LimitStore,
      inject: [REDIS, Database, LimitHitsRepository, IdGenerator, DependencyOutages],
      useFactory: (
        redis: RedisClient | null,
        db: Database,
        hits: LimitHitsRepository,
        ids: IdGenerator,
        outages: DependencyOutages,
      ) => (redis ? new RedisLimitStore(redis, outages) : new DatabaseLimitStore(db, hits, ids)),
    },
    {
      provide: BackoffStore,
      inject: [REDIS, Database, LimitBackoffsRepository, DependencyOutages],
      useFactory: (
        redis: RedisClient | null,
        db: Database,
        backoffs: LimitBackoffsRepository,
        outages: DependencyOutages,
      ) => (redis ? new RedisBackoffStore(redis, outages) : new DatabaseBackoffStore(db, backoffs)),
    },
    LimitHitsRepository,
    LimitBackoffsRepository,
    RedisCloser,
    LimitMetrics,
  ],
  // the repositories for the retention sweep, which prunes what counts for nothing any more
  exports: [LimitStore, BackoffStore, REDIS, LimitMetrics, LimitHitsRepository, LimitBackoffsRepository],
})
export class LimitsModule {}
