import { Injectable } from '@nestjs/common';
import { redisCommand } from './redis-command';
import { keyPrefix, type RedisClient, scanTargets } from './redis-connection';
import { DependencyOutages } from '../errors/dependency-outages';
import { BACKOFF_QUIET_MS, BackoffStore, BackoffVerdict } from './backoff-store';

/** The command only: keys hold numbers. */
/**
 * A hash per key (s = sends, n = next send's earliest time), expiring BACKOFF_QUIET_MS after n.
 * Recording never moves a record backwards (two instances that both let a send through at the
 * same moment each count it, and the later wait wins). ARGV: sends, next, expire-at.
 */
const RECORD = `
local s = tonumber(redis.call('HGET', KEYS[1], 's') or '0')
local n = tonumber(redis.call('HGET', KEYS[1], 'n') or '0')
local sends = math.max(s, tonumber(ARGV[1]))
local next = math.max(n, tonumber(ARGV[2]))
redis.call('HSET', KEYS[1], 's', sends, 'n', next)
redis.call('PEXPIREAT', KEYS[1], next + tonumber(ARGV[3]))
return sends
`;

/** The back-off in Redis. Two commands: simultaneous sends may both pass; the daily limits stay exact. */
@Injectable()
export class RedisBackoffStore extends BackoffStore {
  private readonly prefix: string;

  constructor(
    private readonly redis: RedisClient,
    private readonly outages?: DependencyOutages,
  ) {
    super();
    this.prefix = `${keyPrefix(redis)}backoff:`;
  }

  async check(key: string, now: Date): Promise<BackoffVerdict> {
    const [sends, next] = await this.call('HMGET', () => this.redis.hmget(this.prefix + key, 's', 'n'));
    if (sends === null || next === null) return { ok: true, sends: 0 };
    const wait = Number(next) - now.getTime();
    if (wait > 0) return { ok: false, retryAfterMs: wait };
    return { ok: true, sends: Number(sends) };
  }

  async record(key: string, sends: number, waitMs: number, now: Date): Promise<void> {
    const next = now.getTime() + waitMs;
    await this.call('EVALSHA', () => this.redis.eval(RECORD, 1, this.prefix + key, sends, next, BACKOFF_QUIET_MS));
  }

  async reset(key: string): Promise<void> {
    await this.call('DEL', () => this.redis.del(this.prefix + key));
  }

  /** SCANs every primary for the prefix's keys (an operator's occasional command, never on a request's path). */
  async clear(prefix: string): Promise<number> {
    const pattern = `${this.prefix}${prefix}`.replace(/[*?[\]\\]/g, (c) => `\\${c}`) + '*';
    let cleared = 0;
    for (const node of scanTargets(this.redis)) {
      let cursor = '0';
      do {
        const [next, keys] = await this.call('SCAN', () => node.scan(cursor, 'MATCH', pattern, 'COUNT', 1000));
        cursor = next;
        // through the client, not the node: in a Cluster it goes where the keys' slot lives now
        if (keys.length > 0) cleared += await this.call('DEL', () => this.redis.del(...keys));
      } while (cursor !== '0');
    }
    return cleared;
  }

  private call<T>(operation: string, command: () => Promise<T>): Promise<T> {
    return redisCommand(operation, command, this.outages);
  }
}
