import { CanActivate, ExecutionContext, Inject, Injectable, Optional } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import type { RedisClient } from '../limits/redis-connection';
import { RateLimiterAbstract, RateLimiterMemory, RateLimiterRedis, RateLimiterRes } from 'rate-limiter-flexible';
import { IS_PUBLIC } from '../auth/public.decorator';
import { ThrottleSettings } from './throttle.settings';
import { AppError } from '../errors/app-error';
import { GrpcStatus } from '../errors/grpc-status';
import { redisFault } from '../errors/dependency-error';
import { DependencyOutages } from '../errors/dependency-outages';
import { LimitMetrics } from '../limits/limit.metrics';
import { REDIS } from '../limits/limits.module';
import { addressKey } from './address-set';
import { clientAddress } from './client-address';

/**
 * Per-client throttling of REST, gRPC and gRPC-web, keyed by client address (an IPv4 address, an
 * IPv6 one by its /64, as the pumping guard counts them): THROTTLE_LIMIT
 * requests per THROTTLE_WINDOW, counted in Redis when REDIS_URL is set (shared by all instances),
 * else in memory. Runs before the AuthGuard. It fails closed: while Redis does not answer (within
 * REDIS_TIMEOUT) a request cannot be counted and is answered 503, as every check that cannot be made.
 */
@Injectable()
export class ThrottleGuard implements CanActivate {
  private readonly limiter?: RateLimiterAbstract;
  /** Public routes (probes, receipts) count in a bucket of their own, THROTTLE_PUBLIC_LIMIT: generous, never unlimited. */
  private readonly publicLimiter?: RateLimiterAbstract;
  private readonly redis: boolean;

  constructor(
    config: ThrottleSettings,
    private readonly reflector: Reflector,
    @Optional() @Inject(REDIS) redis?: RedisClient | null,
    @Optional() private readonly outages?: DependencyOutages,
    @Optional() private readonly limitMetrics?: LimitMetrics,
  ) {
    this.redis = Boolean(redis);
    if (config.publicLimit > 0) {
      // in memory, per instance, even with Redis: a Redis outage must not fail the liveness probe
      const duration = Math.ceil(config.windowMs / 1000);
      this.publicLimiter = new RateLimiterMemory({ points: config.publicLimit, duration });
    }
    if (config.limit === 0) return;
    const options = { points: config.limit, duration: Math.ceil(config.windowMs / 1000) };
    this.limiter = redis
      ? new RateLimiterRedis({
          ...options,
          storeClient: redis,
          keyPrefix: 'pv:throttle',
          rejectIfRedisNotReady: true,
        })
      : new RateLimiterMemory(options);
  }

  async canActivate(context: ExecutionContext): Promise<boolean> {
    const isPublic = this.reflector.getAllAndOverride<boolean>(IS_PUBLIC, [context.getHandler(), context.getClass()]);
    const limiter = isPublic ? this.publicLimiter : this.limiter;
    if (!limiter) return true;
    try {
      await limiter.consume(addressKey(clientAddress(context)));
      if (this.redis && !isPublic) this.outages?.succeeded('redis');
      return true;
    } catch (result) {
      if (!(result instanceof RateLimiterRes)) throw this.redis ? redisFault(result) : result;
      this.limitMetrics?.refused('throttle');
      throw new AppError(GrpcStatus.RESOURCE_EXHAUSTED, 'API-thr0ttle', 'Too many requests from this client', {
        retryAfterMs: Math.max(1000, result.msBeforeNext),
      });
    }
  }
}
