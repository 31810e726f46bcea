import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Pool } from 'pg';
import { DataSource } from 'typeorm';
import { createPgSchema, dropPgSchema, PG_URL } from '../../test/support/test-app';
import { dataSourceOptions } from './data-source-options';
import { PostgresAdapter, pgPool, submit } from './postgres.adapter';
import { sqliteConnection, type SqliteConnection } from './sqlite.adapter';

// the project has no @types/better-sqlite3: its connection class, as the adapter sees it
// eslint-disable-next-line @typescript-eslint/no-require-imports
const BetterSqlite3 = require('better-sqlite3') as new (file: string) => SqliteConnection;

/**
 * The internals of TypeORM, node-postgres and better-sqlite3 that the two adapters rely on, one
 * `it` each: an upgrade that moves one fails here, by name, before anything subtler breaks.
 */
describe('what postgres.adapter.ts relies on (TypeORM postgres driver, node-postgres)', () => {
  let schema: string;
  let dataSource: DataSource;

  beforeAll(async () => {
    schema = await createPgSchema();
    dataSource = await new DataSource(
      dataSourceOptions({ DATABASE_URL: PG_URL, DATABASE_SCHEMA: schema, DATABASE_POOL_SIZE: 2 }),
    ).initialize();
  }, 60_000);
  afterAll(async () => {
    await dataSource?.destroy();
    if (schema) await dropPgSchema(schema);
  }, 60_000);

  it("TypeORM's driver keeps node-postgres's pool as `driver.master`", () => {
    const master = (dataSource.driver as unknown as { master: unknown }).master;
    expect(master).toBeInstanceOf(Pool);
    expect(pgPool(dataSource)).toBe(master);
  });

  it('the pool hands out clients (promise API) that can be released, with an error event, and says when it connects', async () => {
    const pool = pgPool(dataSource);
    const connected = jest.fn();
    pool.on('connect', connected);
    // both connections at once: at least one of them is new
    const [a, b] = await Promise.all([pool.connect(), pool.connect()]);
    try {
      expect(typeof a.on).toBe('function');
      expect(typeof a.removeListener).toBe('function');
      expect(typeof a.release).toBe('function');
    } finally {
      a.release();
      b.release();
    }
    // the pool held one idle connection (TypeORM's, from initialize): the second is new
    expect(connected.mock.calls.length).toBeGreaterThanOrEqual(1);
    (pool as unknown as Pool).removeListener('connect', connected);
  });

  it("a client's socket is `client.connection.stream`, which can be corked and uncorked", async () => {
    const client = await pgPool(dataSource).connect();
    try {
      const stream = client.connection?.stream;
      expect(typeof stream?.cork).toBe('function');
      expect(typeof stream?.uncork).toBe('function');
    } finally {
      client.release();
    }
  });

  it("the pool says which client it hands out (`acquire`), also for its own query; the client's socket writes and reads", async () => {
    const pool = pgPool(dataSource);
    const acquired: unknown[] = [];
    const listener = (client: unknown) => acquired.push(client);
    pool.on('acquire', listener);
    try {
      const client = await pool.connect();
      client.release();
      await submit(pool, 'SELECT 1');
      expect(acquired).toHaveLength(2);
      const stream = (acquired[0] as { connection?: { stream?: { write?: unknown; on?: unknown } } }).connection
        ?.stream;
      expect(typeof stream?.write).toBe('function');
      expect(typeof stream?.on).toBe('function');
    } finally {
      (pool as unknown as Pool).removeListener('acquire', listener);
    }
  });

  it('a round trip is counted per batch: statements issued together are one, each awaited one another', async () => {
    const adapter = new PostgresAdapter(dataSource);
    const before = adapter.roundTrips;
    await adapter.transaction(async (tx) => {
      // BEGIN and two statements in one batch, then one more after their answers, then COMMIT
      await Promise.all([adapter.rows(tx, 'SELECT 1', []), adapter.rows(tx, 'SELECT 2', [])]);
      await adapter.rows(tx, 'SELECT 3', []);
    });
    expect(adapter.roundTrips - before).toBe(3);
  });

  it("the pool's clients are in pipeline mode: statements issued together are all answered, each with its own error", async () => {
    const client = await pgPool(dataSource).connect();
    try {
      expect((client as unknown as { pipeline: boolean }).pipeline).toBe(true);
      const [one, failed, two] = await Promise.allSettled([
        submit(client, 'SELECT 1 AS n'),
        submit(client, 'SELECT no_such_column'),
        submit(client, 'SELECT 2 AS n'),
      ]);
      expect(one).toMatchObject({ status: 'fulfilled', value: { rows: [{ n: 1 }] } });
      expect(failed).toMatchObject({ status: 'rejected', reason: { code: '42703' } });
      expect(two).toMatchObject({ status: 'fulfilled', value: { rows: [{ n: 2 }] } });
    } finally {
      client.release();
    }
  });

  it("a client runs a statement made on Query's prototype (pipeline mode refuses other submittables): rows through the type parsers, the command tag's count", async () => {
    const client = await pgPool(dataSource).connect();
    try {
      const [read, written, none] = await Promise.all([
        submit(
          client,
          "SELECT $1::int AS n, $2::bigint AS big, true AS yes, NULL::text AS nothing, '2026-12-02T00:00:00Z'::timestamptz AS at, 'x' AS \"__proto__\"",
          'pins_types',
          [7, '9007199254740993'],
        ),
        submit(client, 'CREATE TEMP TABLE pins_t (n int)'),
        submit(client, 'SELECT 1 WHERE false', 'pins_none', []),
      ]);
      expect(read.rows).toHaveLength(1);
      const row = read.rows[0] as Record<string, unknown>;
      expect(Object.keys(row)).toEqual(['n', 'big', 'yes', 'nothing', 'at', '__proto__']);
      expect(row).toMatchObject({ n: 7, big: '9007199254740993', yes: true, nothing: null });
      expect(row.at).toEqual(new Date('2026-12-02T00:00:00Z'));
      expect(Object.getOwnPropertyDescriptor(row, '__proto__')?.value).toBe('x');
      expect(Object.getPrototypeOf(row)).toBe(Object.prototype);
      expect(read).toMatchObject({ command: 'SELECT', rowCount: 1 });
      expect(written.command).toBe('CREATE');
      expect(none).toMatchObject({ rows: [], rowCount: 0 });
      const inserted = await submit(client, 'INSERT INTO pins_t (n) VALUES ($1), ($2)', 'pins_insert', [1, 2]);
      expect(inserted).toMatchObject({ command: 'INSERT', rowCount: 2, rows: [] });
      const updated = await submit(client, 'UPDATE pins_t SET n = n + 1 RETURNING n', 'pins_update', []);
      expect(updated).toMatchObject({ command: 'UPDATE', rowCount: 2, rows: [{ n: 2 }, { n: 3 }] });
      await submit(client, 'DROP TABLE pins_t');
    } finally {
      client.release();
    }
  });

  it('a statement that fails is answered once, with the server error, and the connection goes on', async () => {
    const client = await pgPool(dataSource).connect();
    try {
      const answers = jest.fn();
      const failing = submit(client, 'SELECT 1 / $1::int', 'pins_div', [0]).then(answers, (error: unknown) => {
        answers(error);
        throw error;
      });
      await expect(failing).rejects.toMatchObject({ code: '22012' });
      expect(answers).toHaveBeenCalledTimes(1);
      await expect(submit(client, 'SELECT 1 / $1::int AS n', 'pins_div2', [1])).resolves.toMatchObject({
        rows: [{ n: 1 }],
      });
    } finally {
      client.release();
    }
  });

  it('a named statement is prepared once on its connection; results carry rowCount', async () => {
    const client = await pgPool(dataSource).connect();
    try {
      const text = 'SELECT $1::int + 1 AS n';
      const first = await submit(client, text, 'pins_named', [1]);
      expect(first.rows).toEqual([{ n: 2 }]);
      expect(first.rowCount).toBe(1);
      await submit(client, text, 'pins_named', [2]);
      const prepared = await submit(client, 'SELECT name FROM pg_prepared_statements');
      expect(prepared.rows).toContainEqual({ name: 'pins_named' });
    } finally {
      client.release();
    }
  });

  it('a connection sends the extended protocol message by message and records the named statements it sent to be parsed; `pg/lib/utils` maps values', async () => {
    const client = await pgPool(dataSource).connect();
    try {
      const connection = (client as unknown as { connection: Record<string, unknown> }).connection;
      for (const method of ['parse', 'bind', 'describe', 'execute', 'sync']) {
        expect(typeof connection[method]).toBe('function');
      }
      expect(connection.submittedNamedStatements).toEqual(expect.any(Object));
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      const { prepareValue } = require('pg/lib/utils') as { prepareValue: (value: unknown) => unknown };
      expect(prepareValue(new Date('2026-12-02T00:00:00Z'))).toEqual(expect.stringContaining('2026-12-0'));
      expect(prepareValue(7)).toBe('7');
      expect(prepareValue(null)).toBeNull();
    } finally {
      client.release();
    }
  });

  it('a statement is described once per connection: after that PostgreSQL sends it no RowDescription, and one run for its count gets none at all', async () => {
    const client = await pgPool(dataSource).connect();
    try {
      const connection = (client as unknown as { connection: { on(event: string, listener: () => void): void } })
        .connection;
      let descriptions = 0;
      connection.on('rowDescription', () => descriptions++);
      const text = 'SELECT $1::int AS n, $2::text AS t';
      const first = await submit(client, text, 'pins_described', [1, 'a']);
      const again = await Promise.all([
        submit(client, text, 'pins_described', [2, 'b']),
        submit(client, text, 'pins_described', [3, null]),
      ]);
      expect(first.rows).toEqual([{ n: 1, t: 'a' }]);
      expect(again.map((result) => result.rows)).toEqual([[{ n: 2, t: 'b' }], [{ n: 3, t: null }]]);
      expect(descriptions).toBe(1);
      const counted = await submit(client, 'SELECT generate_series(1, $1::int)', 'pins_counted', [3], false);
      expect(counted).toMatchObject({ rows: [], rowCount: 3 });
      expect(descriptions).toBe(1);
    } finally {
      client.release();
    }
  });

  it('a value that cannot be sent fails its statement alone, and the connection goes on', async () => {
    const client = await pgPool(dataSource).connect();
    try {
      const circular: Record<string, unknown> = {};
      circular.self = circular;
      await expect(submit(client, 'SELECT $1::text AS v', 'pins_unsendable', [circular])).rejects.toThrow();
      await expect(submit(client, 'SELECT $1::text AS v', 'pins_unsendable', ['ok'])).resolves.toMatchObject({
        rows: [{ v: 'ok' }],
      });
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
      dataSourceOptions({ DATABASE_URL: `sqlite:${join(dir, 'db.sqlite')}`, DATABASE_POOL_SIZE: 1 }),
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

  it('`driver.createDatabaseConnection()` opens a new connection to the file, with the pragmas of prepareDatabase', async () => {
    const driver = dataSource.driver as unknown as { createDatabaseConnection(): Promise<SqliteConnection> };
    const fresh = await driver.createDatabaseConnection();
    try {
      expect(fresh).toBeInstanceOf(BetterSqlite3);
      expect(fresh).not.toBe(sqliteConnection(dataSource));
      expect(fresh.pragma('temp_store')).toEqual([{ temp_store: 2 }]); // MEMORY, set by prepareDatabase
      expect(fresh.prepare('SELECT count(*) AS n FROM t').all()).toEqual([{ n: 0 }]);
    } finally {
      fresh.close();
    }
  });

  it("TypeORM's one query runner (`driver.queryRunner`) caches its statements in the Map `stmtCache`", async () => {
    await dataSource.query('SELECT n FROM t');
    const driver = dataSource.driver as unknown as { queryRunner?: { stmtCache?: unknown } };
    expect(driver.queryRunner).toBe(dataSource.createQueryRunner());
    expect(driver.queryRunner?.stmtCache).toBeInstanceOf(Map);
    expect((driver.queryRunner?.stmtCache as Map<string, unknown>).size).toBeGreaterThan(0);
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
