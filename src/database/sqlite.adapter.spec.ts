import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DataSource, QueryFailedError } from 'typeorm';
import { dataSourceOptions } from './data-source-options';
import { SqliteAdapter, sqliteConnection, type SqliteConnection } from './sqlite.adapter';

/** The settings TypeORM's driver and the app's prepareDatabase give a connection. */
const PRAGMAS = ['journal_mode', 'busy_timeout', 'synchronous', 'foreign_keys', 'temp_store'];
const pragmas = (db: SqliteConnection) => PRAGMAS.map((name) => [name, db.pragma(name, { simple: true })]);

describe(SqliteAdapter.name, () => {
  let dir: string;
  let dataSource: DataSource;
  let adapter: SqliteAdapter;

  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), 'pv-sqlite-'));
    dataSource = await new DataSource(
      dataSourceOptions({ url: `sqlite:${join(dir, 'db.sqlite')}`, poolSize: 1 }),
    ).initialize();
    await dataSource.query('CREATE TABLE t (id varchar PRIMARY KEY)');
    adapter = new SqliteAdapter(dataSource);
  }, 60_000);
  afterEach(async () => {
    await dataSource.destroy();
    rmSync(dir, { recursive: true, force: true });
  }, 60_000);

  /** The connection's next COMMIT fails and leaves its transaction open; its ROLLBACK fails too. */
  function stuckInTransaction(db: SqliteConnection): Error {
    const diskFull = Object.assign(new Error('database or disk is full'), { code: 'SQLITE_FULL' });
    const prepare = db.prepare.bind(db);
    jest.spyOn(db, 'prepare').mockImplementation((sql: string) => {
      const statement = prepare(sql);
      if (sql === 'COMMIT') {
        statement.run = () => {
          throw diskFull;
        };
      }
      return statement;
    });
    const exec = db.exec.bind(db);
    jest.spyOn(db, 'exec').mockImplementation((sql: string) => {
      if (/ROLLBACK/i.test(sql)) throw new Error('rollback failed');
      return exec(sql);
    });
    return diskFull;
  }

  const insert = (id: string) =>
    adapter.transaction((tx) => adapter.execute(tx, 'INSERT INTO t (id) VALUES ($1)', [id]));

  it('replaces a connection a failed COMMIT left in its transaction with one opened as TypeORM opens its own', async () => {
    const old = sqliteConnection(dataSource);
    const settings = pragmas(old);
    // as the checkpointer sets it while its worker runs
    old.pragma('wal_autocheckpoint = 0');
    // TypeORM's query runner prepares its statements on the old connection
    await dataSource.query('SELECT count(*) AS n FROM t');
    const diskFull = stuckInTransaction(old);
    let queuedMeanwhile: Promise<unknown> | undefined;
    const failed = adapter.transaction(async (tx) => {
      await adapter.execute(tx, 'INSERT INTO t (id) VALUES ($1)', ['lost']);
      // runs in the next group, once the connection has been replaced
      queuedMeanwhile = insert('queued');
    });
    await expect(failed).rejects.toEqual(expect.objectContaining({ driverError: diskFull }));
    await expect(failed).rejects.toBeInstanceOf(QueryFailedError);
    await queuedMeanwhile;

    const fresh = sqliteConnection(dataSource);
    expect(fresh).not.toBe(old);
    expect(old.open).toBe(false);
    expect([fresh.open, fresh.inTransaction]).toEqual([true, false]);
    expect(pragmas(fresh)).toEqual(settings);
    expect(fresh.pragma('wal_autocheckpoint', { simple: true })).toBe(0);
    // TypeORM's own statements run on the new connection (its runner was dropped with the old one)
    expect(await dataSource.query('SELECT id FROM t ORDER BY id')).toEqual([{ id: 'queued' }]);
    await insert('after');
    expect(await dataSource.query('SELECT count(*) AS n FROM t')).toEqual([{ n: 2 }]);
  });

  it('opens no connection once the data source is closed', async () => {
    const old = sqliteConnection(dataSource);
    stuckInTransaction(old);
    const failed = adapter.transaction(async (tx) => {
      await adapter.execute(tx, 'INSERT INTO t (id) VALUES ($1)', ['lost']);
      // the app closes while the unit runs
      await dataSource.destroy();
    });
    await expect(failed).rejects.toThrow();
    expect(sqliteConnection(dataSource)).toBe(old);
    expect(old.open).toBe(false);
    // afterEach closes it again
    await dataSource.initialize();
  });
});
