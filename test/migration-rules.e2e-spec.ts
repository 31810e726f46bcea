import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { DataSource, MigrationInterface, QueryRunner, TableColumn, TableIndex } from 'typeorm';
import { dataSourceOptions, withoutStatementDeadlines } from '../src/database/data-source-options';
import { MIGRATIONS } from '../src/database/migrations';
import { LAST_RELEASED_MIGRATION } from '../src/database/migrations/released';
import { checkMigrations, Finding, MigrationText, Rule, RULES } from './support/migration-rules';
import { createPgSchema, dropPgSchema, PG_URL } from './support/test-app';

/** Issue 27, point 3: migrations newer than the last release keep a rolling upgrade safe. */

const DIR = join(__dirname, '../src/database/migrations');

type MigrationClass = new () => MigrationInterface;

/** As TypeORM reads it: the last 13 digits of the migration's name. */
const timestampOf = (name: string) => Number(name.slice(-13));
const nameOf = (migration: MigrationClass) => new migration().name ?? migration.name;

function fileOf(timestamp: number): string {
  const files = readdirSync(DIR).filter((file) => file.startsWith(`${timestamp}-`) && file.endsWith('.ts'));
  expect(files).toHaveLength(1);
  return readFileSync(join(DIR, files[0]), 'utf8');
}

/**
 * Runs each migration's `up` on `dataSource` (in a transaction, unless it declines one as
 * TypeORM lets it) and records the SQL of its `query()` calls, TypeORM's own among them.
 */
async function recorded(
  dataSource: DataSource,
  migrations: MigrationClass[],
  sourceOf: (timestamp: number) => string,
): Promise<MigrationText[]> {
  const texts: MigrationText[] = [];
  for (const migration of migrations) {
    const instance = new migration();
    const runner = dataSource.createQueryRunner();
    const statements: string[] = [];
    const query = runner.query.bind(runner) as (sql: string, ...rest: unknown[]) => Promise<unknown>;
    runner.query = ((sql: string, ...rest: unknown[]) => {
      statements.push(sql);
      return query(sql, ...rest);
    }) as QueryRunner['query'];
    try {
      if (instance.transaction !== false) await runner.startTransaction();
      statements.length = 0;
      await instance.up(runner);
      if (runner.isTransactionActive) await runner.commitTransaction();
    } finally {
      await runner.release();
    }
    const name = nameOf(migration);
    texts.push({ name, timestamp: timestampOf(name), source: sourceOf(timestampOf(name)), statements });
  }
  return texts;
}

const described = (findings: Finding[]) =>
  findings.map((f) => `${f.migration}: ${f.rule}${f.excusedBy ? ` (excused: ${f.excusedBy})` : ''}: ${f.statement}`);

describe('the rolling-upgrade checker', () => {
  const LAST = 100;
  const migration = (timestamp: number, statements: string[], source = ''): MigrationText => ({
    name: `M${timestamp}`,
    timestamp,
    source,
    statements,
  });
  /** The rules one unreleased migration breaks, with the marker's reason where one excuses it. */
  const rulesOf = (statements: string[], source = '') =>
    checkMigrations([migration(LAST + 1, statements, source)], LAST).map((f) =>
      f.excusedBy ? `${f.rule} (excused: ${f.excusedBy})` : f.rule,
    );

  it.each<[Rule, string]>([
    ['drop', 'ALTER TABLE "users" DROP COLUMN "nick_name"'],
    ['drop', 'alter table users drop nick_name'],
    ['drop', 'DROP TABLE IF EXISTS "public"."limit_hits"'],
    ['rename', 'ALTER TABLE "users" RENAME COLUMN "nick_name" TO "nickname"'],
    ['rename', 'ALTER TABLE users RENAME TO people'],
    ['type change', 'ALTER TABLE "users" ALTER COLUMN "phone" TYPE text'],
    ['type change', 'ALTER TABLE users ALTER phone SET DATA TYPE varchar(64)'],
    ['set not null', 'ALTER TABLE "users" ALTER COLUMN "email" SET NOT NULL'],
    ['not null without default', 'ALTER TABLE "users" ADD "tier" integer NOT NULL'],
    ['not null without default', 'ALTER TABLE ONLY users ADD COLUMN IF NOT EXISTS tier int not null'],
    ['index without concurrently', 'CREATE INDEX "IDX_users_email" ON "users" ("email")'],
    ['index without concurrently', 'CREATE UNIQUE INDEX ON public.users USING btree (lower(email))'],
    ['validated constraint', 'ALTER TABLE "users" ADD CONSTRAINT "UQ_users_email" UNIQUE ("email")'],
    [
      'validated constraint',
      'ALTER TABLE phone_codes ADD CONSTRAINT fk_user FOREIGN KEY (user_id) REFERENCES users (id)',
    ],
  ])('finds %s: %s', (rule, sql) => {
    expect(rulesOf([sql])).toEqual([rule]);
  });

  it('reads every action of an ALTER TABLE and every statement of a call', () => {
    expect(rulesOf(['ALTER TABLE users ADD a int, DROP COLUMN b, ALTER c TYPE numeric(10, 2)'])).toEqual([
      'drop',
      'type change',
    ]);
    expect(rulesOf(['ALTER TABLE users ADD note text; ALTER TABLE users ALTER note SET NOT NULL'])).toEqual([
      'set not null',
    ]);
  });

  it('lets through what only adds, or locks for no longer than a catalog change', () => {
    expect(
      rulesOf([
        'ALTER TABLE "users" ADD "tier" integer',
        'ALTER TABLE "users" ADD "rank" integer NOT NULL DEFAULT 0',
        'CREATE INDEX CONCURRENTLY "IDX_users_tier" ON "users" ("tier")',
        'ALTER TABLE phone_codes ADD CONSTRAINT fk_user FOREIGN KEY (user_id) REFERENCES users (id) NOT VALID',
        'ALTER TABLE phone_codes VALIDATE CONSTRAINT fk_user',
        'ALTER TABLE users ADD CONSTRAINT uq_email UNIQUE USING INDEX idx_email',
        'ALTER TABLE "users" SET (fillfactor = 85)',
        'ALTER TABLE users ALTER COLUMN phone DROP NOT NULL, ALTER COLUMN tier SET DEFAULT 0',
        "UPDATE memberships SET instance = TRUE, scope = '' WHERE scope = 'instance'",
        // statements in a literal or a comment are not run
        "COMMENT ON COLUMN users.phone IS 'DROP TABLE users; ALTER TABLE users DROP phone'",
        '-- ALTER TABLE users DROP COLUMN phone\nSELECT 1',
        'SELECT $body$ ALTER TABLE users DROP COLUMN phone $body$',
      ]),
    ).toEqual([]);
  });

  it('lets through anything on a table that an unreleased migration created', () => {
    const findings = checkMigrations(
      [
        migration(LAST + 1, ['CREATE TABLE "sms_templates" ("id" varchar(200) PRIMARY KEY, "text" varchar(500))']),
        migration(LAST + 2, [
          'CREATE INDEX "IDX_sms_templates_text" ON "sms_templates" ("text")',
          'ALTER TABLE "sms_templates" ADD "locale" varchar(10) NOT NULL, ALTER "text" TYPE text',
          'ALTER TABLE sms_templates RENAME TO templates',
          'ALTER TABLE templates RENAME COLUMN locale TO language',
          'DROP TABLE templates',
        ]),
      ],
      LAST,
    );
    expect(findings).toEqual([]);
  });

  it('checks only the migrations newer than the last release; the tables of the released ones exist', () => {
    const findings = checkMigrations(
      [
        migration(LAST - 1, ['CREATE TABLE limit_hits (id int)', 'ALTER TABLE users DROP COLUMN x']),
        migration(LAST, ['CREATE TABLE receipts (id int)']),
        migration(LAST + 1, ['CREATE INDEX idx_receipts ON receipts (id)']),
      ],
      LAST,
    );
    expect(described(findings)).toEqual([
      `M101: index without concurrently: CREATE INDEX idx_receipts ON receipts (id)`,
    ]);
  });

  it('a marker comment in a call excuses that call, when it gives a reason', () => {
    expect(
      rulesOf([
        'ALTER TABLE users DROP COLUMN nick_name -- rolling-upgrade: contract step, unused since 0.2.0',
        '/* rolling-upgrade: users has a few rows in every deployment */ CREATE INDEX i ON users (email)',
        'ALTER TABLE users DROP COLUMN display_name',
        'ALTER TABLE users DROP COLUMN gender -- rolling-upgrade:',
        "ALTER TABLE users DROP COLUMN email, ALTER phone SET DEFAULT '-- rolling-upgrade: a literal'",
      ]),
    ).toEqual([
      'drop (excused: contract step, unused since 0.2.0)',
      'index without concurrently (excused: users has a few rows in every deployment)',
      'drop',
      'drop',
      'drop',
    ]);
  });

  it('a marker comment in the migration’s file excuses the whole migration, and no other', () => {
    const contract = ['ALTER TABLE users DROP COLUMN nick_name', 'ALTER TABLE users RENAME COLUMN phone TO msisdn'];
    for (const source of [
      'export class Contract implements MigrationInterface {\n  // rolling-upgrade: contract step of 0.3.0\n}',
      '/**\n * Drops what 0.2.0 stopped reading.\n * rolling-upgrade: contract step of 0.3.0\n */',
    ]) {
      expect(rulesOf(contract, source)).toEqual([
        'drop (excused: contract step of 0.3.0)',
        'rename (excused: contract step of 0.3.0)',
      ]);
    }
    const findings = checkMigrations(
      [
        migration(LAST + 1, contract, '// rolling-upgrade: contract step of 0.3.0'),
        migration(LAST + 2, contract, 'const note = "rolling-upgrade: in a string, not a comment";'),
      ],
      LAST,
    );
    expect(findings.map((f) => [f.migration, f.rule, f.excusedBy])).toEqual([
      ['M101', 'drop', 'contract step of 0.3.0'],
      ['M101', 'rename', 'contract step of 0.3.0'],
      ['M102', 'drop', undefined],
      ['M102', 'rename', undefined],
    ]);
  });
});

describe('the migrations (postgres)', () => {
  let schema: string;
  let dataSource: DataSource;
  let texts: MigrationText[];

  beforeAll(async () => {
    schema = await createPgSchema();
    dataSource = new DataSource(withoutStatementDeadlines(dataSourceOptions({ url: PG_URL, schema, poolSize: 2 })));
    await dataSource.initialize();
    texts = await recorded(dataSource, MIGRATIONS, fileOf);
  }, 60_000);
  afterAll(async () => {
    if (dataSource?.isInitialized) await dataSource.destroy();
    if (schema) await dropPgSchema(schema);
  }, 60_000);

  it('LAST_RELEASED_MIGRATION is one of them; every migration file is listed, in order', () => {
    const timestamps = MIGRATIONS.map((m) => timestampOf(nameOf(m)));
    expect(timestamps).toContain(LAST_RELEASED_MIGRATION);
    const files = readdirSync(DIR)
      .filter((file) => /^\d{13}-.*\.ts$/.test(file) && !file.endsWith('.spec.ts'))
      .map((file) => Number(file.slice(0, 13)))
      .sort((a, b) => a - b);
    expect(timestamps).toEqual(files);
  });

  it('those newer than the last release keep a rolling upgrade safe', () => {
    const unexcused = checkMigrations(texts, LAST_RELEASED_MIGRATION).filter((f) => !f.excusedBy);
    expect(unexcused.map((f) => `${described([f])[0]} — ${RULES[f.rule]}`)).toEqual([]);
  });

  it('reads what TypeORM runs: the released ones, each as if it had been a release of its own', () => {
    const findings = texts.flatMap((text) => checkMigrations([text], text.timestamp - 1));
    expect(described(findings)).toEqual([
      'SmsDeliveryReceipts1764520000000: index without concurrently: CREATE INDEX "IDX_sms_outbox_provider_message" ON "sms_outbox" ("provider", "provider_message_id")',
      'Retention1764540000000: index without concurrently: CREATE INDEX "IDX_events_type_time" ON "events" ("type", "created_at")',
      'Retention1764540000000: index without concurrently: CREATE INDEX "IDX_sms_outbox_finished" ON "sms_outbox" ("finished_at")',
    ]);
  });

  it('reads TypeORM’s Table API: a migration that contracts, and one that builds its index concurrently', async () => {
    class Contracting1999000000000 implements MigrationInterface {
      async up(q: QueryRunner): Promise<void> {
        // NOT NULL unless isNullable: true
        await q.addColumn('users', new TableColumn({ name: 'tier', type: 'integer' }));
        await q.renameColumn('users', 'nick_name', 'nickname');
        await q.changeColumn('users', 'display_name', new TableColumn({ name: 'display_name', type: 'text' }));
        await q.dropColumn('phone_codes', 'sent_country');
        await q.createIndex('events', new TableIndex({ name: 'IDX_events_creator', columnNames: ['creator'] }));
      }
      async down(): Promise<void> {}
    }
    class ConcurrentIndex1999000000001 implements MigrationInterface {
      // CREATE INDEX CONCURRENTLY cannot run in a transaction
      transaction = false as const;
      async up(q: QueryRunner): Promise<void> {
        await q.addColumn('users', new TableColumn({ name: 'rank', type: 'integer', isNullable: true }));
        const index = new TableIndex({ name: 'IDX_users_rank', columnNames: ['rank'], isConcurrent: true });
        await q.createIndex('users', index);
      }
      async down(): Promise<void> {}
    }
    const next = await recorded(dataSource, [Contracting1999000000000, ConcurrentIndex1999000000001], () => '');
    const findings = checkMigrations([...texts, ...next], LAST_RELEASED_MIGRATION);
    expect(findings.map((f) => [f.migration, f.rule])).toEqual([
      ['Contracting1999000000000', 'not null without default'],
      ['Contracting1999000000000', 'rename'],
      ['Contracting1999000000000', 'drop'],
      ['Contracting1999000000000', 'not null without default'],
      ['Contracting1999000000000', 'drop'],
      ['Contracting1999000000000', 'index without concurrently'],
    ]);
    // built outside a transaction, as TypeORM runs a migration that declines one
    expect(next[1].statements).toContainEqual(expect.stringMatching(/^CREATE INDEX CONCURRENTLY "IDX_users_rank" ON/));
    const valid = await dataSource.query(
      `SELECT i.indisvalid AS valid FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid WHERE c.relname = 'IDX_users_rank' AND c.relnamespace = $1::regnamespace`,
      [schema],
    );
    expect(valid).toEqual([{ valid: true }]);
  });
});
