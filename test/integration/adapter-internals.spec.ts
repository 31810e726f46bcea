import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Pool } from 'pg';
import { DataSource } from 'typeorm';
import { createPgSchema, dropPgSchema, PG_URL } from '../support/test-app';
import { dataSourceOptions } from '../../src/database/data-source-options';
import { sqliteConnection, type SqliteConnection } from '../../src/database/sqlite.adapter';

// the project has no @types/better-sqlite3: its connection class, as the adapter sees it
// eslint-disable-next-line @typescript-eslint/no-require-imports
const BetterSqlite3 = require('better-sqlite3') as new (file: string) => SqliteConnection;

/**
 * What the two adapters rely on that is not documented API (docs/adr/0006-library-internals.md):
 * the public but untyped (`any`) fields of TypeORM's drivers, and the shape of better-sqlite3 as
 * the adapter types it by hand (the project has no @types/better-sqlite3). One `it` each: an
 * upgrade that moves one fails here, by name, before anything subtler breaks.
 */
describe('what postgres.adapter.ts relies on (TypeORM postgres driver, node-postgres)', () => {
  let schema: string;
  let dataSource: DataSource;
  const pool = () => (dataSource.driver as unknown as { master: Pool }).master;

  beforeAll(async () => {
    schema = await createPgSchema();
    dataSource = await new DataSource(dataSourceOptions({ url: PG_URL, schema, poolSize: 2 })).initialize();
  }, 60_000);
  afterAll(async () => {
    await dataSource?.destroy();
    if (schema) await dropPgSchema(schema);
  }, 60_000);

  it("TypeORM's driver keeps node-postgres's pool as `driver.master`", () => {
    expect(pool()).toBeInstanceOf(Pool);
  });

  it("`pipeline: true` in the client config puts the pool's clients in pipeline mode: statements issued together are each answered, with their own error", async () => {
    const client = await pool().connect();
    try {
      expect(client.pipeline).toBe(true);
      const [one, failed, two] = await Promise.allSettled([
        client.query('SELECT 1 AS n'),
        client.query('SELECT no_such_column'),
        client.query('SELECT $1::int AS n', [2]),
      ]);
      expect(one).toMatchObject({ status: 'fulfilled', value: { rows: [{ n: 1 }] } });
      expect(failed).toMatchObject({ status: 'rejected', reason: { code: '42703' } });
      expect(two).toMatchObject({ status: 'fulfilled', value: { rows: [{ n: 2 }] } });
    } finally {
      client.release();
    }
  });
});

describe('what sqlite.adapter.ts relies on (TypeORM better-sqlite3 driver, better-sqlite3)', () => {
  let dir: string;
  let dataSource: DataSource;

  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), 'pv-pins-'));
    dataSource = await new DataSource(
      dataSourceOptions({ url: `sqlite:${join(dir, 'db.sqlite')}`, poolSize: 1 }),
    ).initialize();
    await dataSource.query('CREATE TABLE t (id varchar PRIMARY KEY, n integer NOT NULL)');
  }, 60_000);
  afterEach(async () => {
    await dataSource.destroy();
    rmSync(dir, { recursive: true, force: true });
  }, 60_000);

  it("TypeORM's driver keeps its one better-sqlite3 connection as `driver.databaseConnection`", () => {
    const connection = (dataSource.driver as unknown as { databaseConnection: unknown }).databaseConnection;
    expect(connection).toBeInstanceOf(BetterSqlite3);
    expect(sqliteConnection(dataSource)).toBe(connection);
  });

  it("TypeORM's driver holds better-sqlite3's Database class as `driver.sqlite`", () => {
    expect((dataSource.driver as unknown as { sqlite: unknown }).sqlite).toBe(BetterSqlite3);
  });

  it("TypeORM's driver has one query runner, `driver.queryRunner`, made anew when next asked for once it is unset", async () => {
    const driver = dataSource.driver as unknown as { queryRunner?: unknown };
    const runner = dataSource.createQueryRunner();
    expect(driver.queryRunner).toBe(runner);
    expect(dataSource.createQueryRunner()).toBe(runner);
    driver.queryRunner = undefined;
    const next = dataSource.createQueryRunner();
    expect(next).not.toBe(runner);
    expect(driver.queryRunner).toBe(next);
    expect(await dataSource.query('SELECT count(*) AS n FROM t')).toEqual([{ n: 0 }]);
  });

  it('a connection says whether it is open and whether a transaction is open on it', () => {
    const connection = sqliteConnection(dataSource);
    expect([connection.open, connection.inTransaction]).toEqual([true, false]);
    connection.exec('BEGIN');
    expect(connection.inTransaction).toBe(true);
    connection.exec('ROLLBACK');
    expect(connection.inTransaction).toBe(false);
  });

  it('statements tell readers (RETURNING too), return rows as arrays in raw mode, name their columns, count changes', () => {
    const connection = sqliteConnection(dataSource);
    const insert = connection.prepare('INSERT INTO t (id, n) VALUES (?, ?)');
    expect(insert.reader).toBe(false);
    expect(insert.run('a', 1)).toMatchObject({ changes: 1 });
    const update = connection.prepare('UPDATE t SET n = n + 1 WHERE id = ? RETURNING n');
    expect(update.reader).toBe(true);
    const select = connection.prepare('SELECT id, n AS "t.n" FROM t');
    expect(select.reader).toBe(true);
    expect(select.columns().map((c) => c.name)).toEqual(['id', 't.n']);
    expect(select.raw(true)).toBe(select);
    expect(select.all()).toEqual([['a', 1]]);
    expect(update.raw(true).all('a')).toEqual([[2]]);
  });

  it('errors carry SQLite’s extended result code', () => {
    const connection = sqliteConnection(dataSource);
    connection.prepare('INSERT INTO t (id, n) VALUES (?, ?)').run('a', 1);
    expect(() => connection.prepare('INSERT INTO t (id, n) VALUES (?, ?)').run('a', 2)).toThrow(
      expect.objectContaining({ code: 'SQLITE_CONSTRAINT_PRIMARYKEY' }),
    );
  });
});
