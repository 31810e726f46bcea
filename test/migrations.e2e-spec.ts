import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DataSource } from 'typeorm';
import { openDatabase } from '../src/database/database.module';
import { dataSourceOptions } from '../src/database/data-source-options';
import { MIGRATIONS } from '../src/database/migrations';
import { createPgSchema, DATABASES, Db, dropPgSchema, PG_URL } from './support/test-app';

describe.each(DATABASES)('migrations (%s)', (db: Db) => {
  let dir: string;
  let schema: string | undefined;
  let dataSource: DataSource;

  const options = () =>
    dataSourceOptions({
      url: db === 'postgres' ? PG_URL : join(dir, 'db.sqlite'),
      schema,
      poolSize: 2,
    });

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'pv-migrations-'));
    schema = db === 'postgres' ? await createPgSchema() : undefined;
    dataSource = await openDatabase(options());
  }, 60_000);
  afterAll(async () => {
    if (dataSource?.isInitialized) await dataSource.destroy();
    if (schema) await dropPgSchema(schema);
    rmSync(dir, { recursive: true, force: true });
  }, 60_000);

  it('applies every migration on a fresh database', async () => {
    const applied: Array<{ name: string }> = await dataSource.query('SELECT name FROM migrations ORDER BY id');
    expect(applied.map((m) => m.name)).toEqual(MIGRATIONS.map((m) => new m().name ?? m.name));
  });

  it('opens SQLite in WAL mode with a busy timeout, and PostgreSQL in its own schema with a statement timeout', async () => {
    if (db === 'sqlite') {
      expect(await dataSource.query('PRAGMA journal_mode')).toEqual([{ journal_mode: 'wal' }]);
      expect(await dataSource.query('PRAGMA busy_timeout')).toEqual([{ timeout: 1000 }]); // DATABASE_STATEMENT_TIMEOUT
      expect(await dataSource.query('PRAGMA synchronous')).toEqual([{ synchronous: 1 }]); // NORMAL
      expect(await dataSource.query('PRAGMA temp_store')).toEqual([{ temp_store: 2 }]); // MEMORY
    } else {
      expect(await dataSource.query('SELECT current_schema() AS schema')).toEqual([{ schema }]);
      expect(await dataSource.query('SHOW statement_timeout')).toEqual([{ statement_timeout: '1s' }]);
    }
  });

  // PostgreSQL only: SQLite has no fill factor
  const onPostgres = db === 'postgres' ? it : () => undefined;
  onPostgres(
    'leaves room on the pages of the tables updated in place, so PostgreSQL updates their rows there (HOT)',
    async () => {
      const rows: Array<{ relname: string; reloptions: string[] | null }> = await dataSource.query(
        `SELECT relname, reloptions FROM pg_class WHERE relnamespace = current_schema()::regnamespace AND relname IN ('users', 'phone_codes', 'events') ORDER BY relname`,
      );
      expect(rows).toEqual([
        { relname: 'events', reloptions: null },
        { relname: 'phone_codes', reloptions: ['fillfactor=85'] },
        { relname: 'users', reloptions: ['fillfactor=85'] },
      ]);
    },
  );

  it('leaves nothing for the entities to change (entities and migrations agree)', async () => {
    const { upQueries } = await dataSource.driver.createSchemaBuilder().log();
    expect(upQueries.map((q) => q.query)).toEqual([]);
  });

  it('runs nothing on a second start', async () => {
    const again = await openDatabase(options());
    try {
      expect(await again.showMigrations()).toBe(false);
      expect(await again.runMigrations()).toEqual([]);
    } finally {
      await again.destroy();
    }
  });

  it('can undo every migration and apply them again', async () => {
    for (let i = 0; i < MIGRATIONS.length; i++) await dataSource.undoLastMigration({ transaction: 'all' });
    expect(await dataSource.query('SELECT name FROM migrations')).toEqual([]);
    const { upQueries } = await dataSource.driver.createSchemaBuilder().log();
    expect(upQueries.length).toBeGreaterThan(0);
    await dataSource.runMigrations({ transaction: 'all' });
    expect((await dataSource.driver.createSchemaBuilder().log()).upQueries).toEqual([]);
  });
});
