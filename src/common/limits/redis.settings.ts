import { ValidateBy } from 'class-validator';
import { DurationRange, Optional, Rule, Setting, SettingsGroup } from '../config/setting';
import { REDIS_URL_FORMS, redisUrlProblem } from './redis-url';

@SettingsGroup(
  'Redis',
  'Unset, the limit counters live in the database ([redis.md](redis.md), [ADR 0016](adr/0016-limits-database-or-redis.md)).',
)
export class RedisSettings {
  @Setting(
    'REDIS_URL',
    '`redis://…`, `rediss://…` or a Sentinel set `redis+sentinel://[:password@]host:port,…/<master-name>`: keep limit and throttle counters in Redis, shared by every instance (docs/redis.md)',
  )
  @Optional()
  @Rule(
    REDIS_URL_FORMS.replace('REDIS_URL must be ', ''),
    ValidateBy({
      name: 'redisUrl',
      validator: {
        // the parser the client is built with: a URL accepted here is one it can connect to
        validate: (value) => typeof value === 'string' && redisUrlProblem(value) === undefined,
        defaultMessage: (args) => (typeof args?.value === 'string' && redisUrlProblem(args.value)) || REDIS_URL_FORMS,
      },
    }),
  )
  readonly url?: string = undefined;

  @Setting('REDIS_TIMEOUT', 'deadline of each Redis command and of connecting, then 503')
  @DurationRange('100ms', '1m')
  readonly timeoutMs: number = 1_000;
}
