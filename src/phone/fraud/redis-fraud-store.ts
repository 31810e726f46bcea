import { Injectable } from '@nestjs/common';
import { redisCommand } from '../../common/limits/redis-command';
import { keyPrefix, type RedisClient } from '../../common/limits/redis-connection';
import { DependencyOutages } from '../../common/errors/dependency-outages';
import { counterKeys } from './database-fraud-store';
import {
  Bucket,
  DAY,
  FraudHistory,
  FraudSubject,
  HISTORY_DAYS,
  hourOf,
  RETENTION_MS,
  SmsFraudStore,
} from './sms-fraud-store';

/**
 * Adds to hash fields and keeps each hash SMS_FRAUD_COUNTER_RETENTION past its last write; a field new in its
 * hash (the first write of an hour) also forgets the fields of hours before the cutoff.
 * KEYS: the hashes; ARGV: ttl ms, cutoff hour, then field and increment per key; a last key,
 * when ARGV has one more value, is a number's "verified" marker set with that value's ttl.
 */
const ADD = `
local ttl = tonumber(ARGV[1])
local cutoff = tonumber(ARGV[2])
local n = math.floor((#ARGV - 2) / 2)
for i = 1, n do
  local key = KEYS[i]
  local field = ARGV[1 + i * 2]
  local created = redis.call('HINCRBY', key, field, tonumber(ARGV[2 + i * 2])) == tonumber(ARGV[2 + i * 2])
  if created then
    for _, name in ipairs(redis.call('HKEYS', key)) do
      local hour = tonumber(string.match(name, '(%d+)$'))
      if hour and hour < cutoff then redis.call('HDEL', key, name) end
    end
  end
  redis.call('PEXPIRE', key, ttl)
end
if #KEYS > n then
  redis.call('SET', KEYS[#KEYS], '1', 'PX', tonumber(ARGV[#ARGV]))
end
return 0
`;

/** The command only: keys hold addresses and prefixes. */
/**
 * The counters in Redis (ADR 0017): a hash per counter, a field per hour ("s:<hour>", "v:<hour>"),
 * one script; a verified number is a key of its own ("n:<hash>") with its own TTL.
 */
@Injectable()
export class RedisSmsFraudStore extends SmsFraudStore {
  private readonly prefix: string;

  constructor(
    private readonly redis: RedisClient,
    private readonly rememberMs: number,
    private readonly outages?: DependencyOutages,
    /** SMS_FRAUD_COUNTER_RETENTION */
    private readonly retentionMs: number = RETENTION_MS,
  ) {
    super();
    this.prefix = `${keyPrefix(redis)}fraud:`;
  }

  /** A verified number's marker expires after SMS_FRAUD_REMEMBER_VERIFIED: no `rememberSince` to compare. */
  async history(_tx: unknown, subject: FraudSubject, now: Date): Promise<FraudHistory> {
    const keys = counterKeys(subject);
    const since = hourOf(now) - HISTORY_DAYS * DAY;
    const hashes = [keys.country, keys.prefix, keys.address, keys.addressCountries];
    const results = await this.call('HGETALL', async () => {
      const pipeline = this.redis.pipeline();
      for (const key of hashes) if (key) pipeline.hgetall(this.prefix + key);
      pipeline.exists(this.prefix + numberKey(subject));
      const answers = await pipeline.exec();
      // a pipeline resolves with each command's error: one failed (or missing) answer fails the read
      if (!answers || answers.length !== pipeline.length) throw new Error('incomplete pipeline answer');
      return answers.map(([error, value]) => {
        if (error) throw error;
        return value;
      });
    });
    const numberVerified = Number(results.pop()) === 1;
    const hashesRead = results as Array<Record<string, string>>;
    let next = 0;
    const read = (key: string | undefined) => (key ? hashesRead[next++] : {});
    const country = buckets(read(keys.country), since);
    const prefix = buckets(read(keys.prefix), since);
    const address = buckets(read(keys.address), since);
    const addressCountries = new Map<string, Bucket[]>();
    const byCountry = new Map<string, Record<string, string>>();
    for (const [field, value] of Object.entries(read(keys.addressCountries))) {
      const match = /^([sv]):(.+):(\d+)$/.exec(field);
      if (!match) continue;
      const fields = byCountry.get(match[2]) ?? {};
      fields[`${match[1]}:${match[3]}`] = value;
      byCountry.set(match[2], fields);
    }
    for (const [where, fields] of byCountry) addressCountries.set(where, buckets(fields, since));
    return { country, prefix, address, addressCountries, numberVerified };
  }

  async countSend(_tx: unknown, subject: FraudSubject, now: Date): Promise<void> {
    await this.add(subject, hourOf(now), 's', now, false);
  }

  async countVerified(_tx: unknown, subject: FraudSubject, sentAt: Date, now: Date): Promise<void> {
    await this.add(subject, hourOf(sentAt), 'v', now, true);
  }

  private async add(subject: FraudSubject, hour: number, kind: 's' | 'v', now: Date, verified: boolean) {
    const keys = counterKeys(subject);
    const hashKeys: string[] = [];
    const args: Array<string | number> = [this.retentionMs, hourOf(now) - this.retentionMs];
    for (const key of [keys.country, keys.prefix, keys.address]) {
      if (!key) continue;
      hashKeys.push(this.prefix + key);
      args.push(`${kind}:${hour}`, 1);
    }
    if (keys.addressCountries) {
      hashKeys.push(this.prefix + keys.addressCountries);
      args.push(`${kind}:${subject.country}:${hour}`, 1);
    }
    if (verified) {
      hashKeys.push(this.prefix + numberKey(subject));
      args.push(this.rememberMs);
    }
    await this.call('EVAL', () => this.redis.eval(ADD, hashKeys.length, ...hashKeys, ...args));
  }

  private call<T>(operation: string, command: () => Promise<T>): Promise<T> {
    return redisCommand(operation, command, this.outages);
  }
}

const numberKey = (subject: FraudSubject) => `n:${subject.numberHash}`;

/** "s:<hour>" / "v:<hour>" fields → hourly buckets since `since`. */
function buckets(fields: Record<string, string>, since: number): Bucket[] {
  const byHour = new Map<number, Bucket>();
  for (const [field, value] of Object.entries(fields)) {
    const match = /^([sv]):(\d+)$/.exec(field);
    if (!match) continue;
    const hour = Number(match[2]);
    if (hour < since) continue;
    const bucket = byHour.get(hour) ?? { hour, sent: 0, verified: 0 };
    if (match[1] === 's') bucket.sent += Number(value);
    else bucket.verified += Number(value);
    byHour.set(hour, bucket);
  }
  return [...byHour.values()];
}
