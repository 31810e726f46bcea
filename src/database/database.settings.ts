import { DurationRange, IntRange, OneOf, Optional, Pattern, Setting, SettingsGroup } from '../common/config/setting';

@SettingsGroup(
  'Database',
  'An SQLite file (one instance per file) or PostgreSQL ([ADR 0007](adr/0007-two-databases.md)).',
)
export class DatabaseSettings {
  @Setting('DATABASE_URL', 'an SQLite file path (`sqlite:`/`file:` prefixes allowed), or a `postgres://` URL')
  @Pattern(/^(postgres(ql)?:\/\/.+|sqlite:.+|file:.+|[^:]+)$/, 'a postgres:// URL, sqlite:<path> or a file path')
  readonly url: string = './data/phone-verify.sqlite';

  @Setting('DATABASE_SCHEMA', 'PostgreSQL schema to use (created if missing)')
  @Optional()
  @Pattern(/^[a-z_][a-z0-9_]{0,62}$/, 'a lower-case SQL identifier (a-z, 0-9, _; at most 63 characters)')
  readonly schema?: string = undefined;

  @Setting(
    'DATABASE_POOL_SIZE',
    "PostgreSQL connections per instance; instances × this must stay below PostgreSQL's `max_connections` (100 by default) less what else connects",
  )
  @IntRange(1, 100)
  readonly poolSize: number = 20;

  @Setting(
    'DATABASE_PREPARED_STATEMENTS',
    'PostgreSQL: `on` prepares each statement once per connection (fastest; also PgBouncer ≥ 1.21 with `max_prepared_statements`); `off` runs them unnamed, for a transaction pooler without prepared-statement support (older PgBouncer, Supavisor, RDS Proxy); `auto` prepares until the server shows such a pooler, then runs unnamed and logs it once',
  )
  @OneOf(['auto', 'on', 'off'])
  readonly preparedStatements: 'auto' | 'on' | 'off' = 'auto';

  @Setting('DATABASE_CONNECT_TIMEOUT', 'PostgreSQL: longest wait for a pooled or new connection, then 503')
  @DurationRange('100ms', '1m')
  readonly connectTimeoutMs: number = 1_000;

  @Setting(
    'DATABASE_STATEMENT_TIMEOUT',
    'longest run of one statement, lock waits included, then 503 (PostgreSQL `statement_timeout`; SQLite busy timeout)',
  )
  @DurationRange('100ms', '10m')
  readonly statementTimeoutMs: number = 1_000;

  @Setting(
    'DATABASE_CONNECT_RETRIES',
    'start-up: further attempts to reach a database that refuses, is not found or does not answer, then exit 1',
  )
  @IntRange(0, 1000)
  readonly connectRetries: number = 10;

  @Setting('DATABASE_CONNECT_RETRY_DELAY', 'start-up: pause between two of those attempts')
  @DurationRange('100ms', '1m')
  readonly connectRetryDelayMs: number = 3_000;
}
