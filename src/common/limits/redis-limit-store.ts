import { Injectable } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import { redisCommand } from './redis-command';
import { keyPrefix, type RedisClient } from './redis-connection';
import { DependencyOutages } from '../errors/dependency-outages';
import { LimitRule, LimitStore, LimitVerdict, TakenHit } from './limit-store';

/** The command only: keys hold user ids and numbers. */
/**
 * The sliding log in sorted sets, checked and counted by one script so that instances cannot both
 * slip under a limit (ADR 0016). ARGV: now, mode, then limit and window per key, then the entry per
 * key. Answers {0, the first key's hits} when all allow, else {i, ms until rule i allows}.
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
if mode == 'take' then
  return {0, redis.call('ZCARD', KEYS[1])}
end
return {0, 0}
`;

@Injectable()
export class RedisLimitStore extends LimitStore {
  private readonly prefix: string;

  constructor(
    private readonly redis: RedisClient,
    private readonly outages?: DependencyOutages,
  ) {
    super();
    this.prefix = `${keyPrefix(redis)}limit:`;
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
    return redisCommand('ZCOUNT', () => this.redis.zcount(this.prefix + key, `(${since}`, '+inf'), this.outages);
  }

  /**
   * Takes one hit of `rule` (checked and counted by the script, atomically), under an entry of its
   * own that `giveBack` removes.
   */
  override async takeHit(rule: LimitRule, now: Date): Promise<TakenHit> {
    const { answer, entries } = await this.eval('take', [rule], now);
    const [index, value] = answer;
    if (index !== 0) return { ok: false, rule, retryAfterMs: Math.max(1, value) };
    const key = this.prefix + rule.key;
    const giveBack = () =>
      redisCommand('ZREM', () => this.redis.zrem(key, entries[0]), this.outages).then(
        () => undefined,
        () => undefined,
      );
    return { ok: true, hits: value, giveBack };
  }

  private async run(mode: string, rules: LimitRule[], now: Date): Promise<LimitVerdict> {
    if (rules.length === 0) return { ok: true };
    const [index, retryAfterMs] = (await this.eval(mode, rules, now)).answer;
    if (index === 0) return { ok: true };
    return { ok: false, rule: rules[index - 1], retryAfterMs: Math.max(1, retryAfterMs) };
  }

  /** The script's answer, and the entries it was given (one per rule, unique). */
  private async eval(
    mode: string,
    rules: LimitRule[],
    now: Date,
  ): Promise<{ answer: [number, number]; entries: string[] }> {
    const args: Array<string | number> = [now.getTime(), mode];
    for (const rule of rules) args.push(rule.limit, rule.windowMs);
    const entries = rules.map(() => `${now.getTime()}:${randomUUID()}`);
    const keys = rules.map((r) => this.prefix + r.key);
    const answer = (await redisCommand(
      'EVALSHA',
      () => this.redis.eval(SCRIPT, rules.length, ...keys, ...args, ...entries),
      this.outages,
    )) as [number, number];
    return { answer, entries };
  }
}
