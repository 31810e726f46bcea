import { Injectable } from '@nestjs/common';
import type { Redis } from 'ioredis';
import { randomUUID } from 'node:crypto';
import { redisCommand } from './redis-command';
import { DependencyOutages } from '../errors/dependency-outages';
import { LimitRule, LimitStore, LimitVerdict } from './limit-store';

const PREFIX = 'pv:limit:';

/** The command only: keys hold user ids and numbers. */
/**
 * The same sliding log in Redis sorted sets (score = time), checked and counted by one Lua
 * script, so concurrent instances cannot both slip under a limit.
 * ARGV: now, mode (take|check|record), then limit and window per key.
 */
const SCRIPT = `
local now = tonumber(ARGV[1])
local mode = ARGV[2]
if mode ~= 'record' then
  for i = 1, #KEYS do
    local limit = tonumber(ARGV[1 + i * 2])
    local window = tonumber(ARGV[2 + i * 2])
    redis.call('ZREMRANGEBYSCORE', KEYS[i], '-inf', now - window)
    local count = redis.call('ZCARD', KEYS[i])
    if count >= limit then
      local oldest = redis.call('ZREVRANGE', KEYS[i], limit - 1, limit - 1, 'WITHSCORES')
      return {i, tonumber(oldest[2]) + window - now}
    end
  end
end
if mode ~= 'check' then
  for i = 1, #KEYS do
    local window = tonumber(ARGV[2 + i * 2])
    redis.call('ZADD', KEYS[i], now, ARGV[2 + #KEYS * 2 + i])
    redis.call('PEXPIRE', KEYS[i], window)
  end
end
return {0, 0}
`;

@Injectable()
export class RedisLimitStore extends LimitStore {
  constructor(
    private readonly redis: Redis,
    private readonly outages?: DependencyOutages,
  ) {
    super();
  }

  take(rules: LimitRule[], now: Date): Promise<LimitVerdict> {
    return this.run('take', rules, now);
  }

  check(rules: LimitRule[], now: Date): Promise<LimitVerdict> {
    return this.run('check', rules, now);
  }

  async record(rules: LimitRule[], now: Date): Promise<void> {
    await this.run('record', rules, now);
  }

  async hitsWithin(key: string, windowMs: number, now: Date): Promise<number> {
    const since = now.getTime() - windowMs;
    return redisCommand('ZCOUNT', () => this.redis.zcount(PREFIX + key, `(${since}`, '+inf'), this.outages);
  }

  private async run(mode: string, rules: LimitRule[], now: Date): Promise<LimitVerdict> {
    if (rules.length === 0) return { ok: true };
    const args: Array<string | number> = [now.getTime(), mode];
    for (const rule of rules) args.push(rule.limit, rule.windowMs);
    for (let i = 0; i < rules.length; i++) args.push(`${now.getTime()}:${randomUUID()}`);
    const keys = rules.map((r) => PREFIX + r.key);
    const answer = (await redisCommand(
      'EVALSHA',
      () => this.redis.eval(SCRIPT, rules.length, ...keys, ...args),
      this.outages,
    )) as [number, number];
    const [index, retryAfterMs] = answer;
    if (index === 0) return { ok: true };
    return { ok: false, rule: rules[index - 1], retryAfterMs: Math.max(1, retryAfterMs) };
  }
}
