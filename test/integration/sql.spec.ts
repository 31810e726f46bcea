import { Column, DataSource, Entity, PrimaryColumn, QueryFailedError } from 'typeorm';
import { TimeColumn } from '../../src/database/columns';
import { Database } from '../../src/database/sql';
import { isUniqueViolation } from '../../src/database/unique-violation';

@Entity({ name: 'things' })
class Thing {
  @PrimaryColumn({ type: 'varchar' })
  id: string;

  @Column({ type: 'boolean' })
  done: boolean;

  @Column({ type: 'integer', default: 7 })
  count: number;

  @TimeColumn('seen_at', { nullable: true })
  seenAt: Date | null;
}

describe('Database on SQLite (straight on better-sqlite3)', () => {
  let dataSource: DataSource;
  let db: Database;

  beforeEach(async () => {
    dataSource = new DataSource({ type: 'better-sqlite3', database: ':memory:', entities: [Thing], synchronize: true });
    await dataSource.initialize();
    await dataSource.query('CREATE TABLE t (id varchar PRIMARY KEY, n integer NOT NULL, flag boolean NOT NULL)');
    db = new Database(dataSource);
  }, 60_000);
  afterEach(() => dataSource.destroy(), 60_000);

  it('binds $n parameters in order, booleans as 0/1, and returns the rows of SELECT and RETURNING', async () => {
    expect(await db.rows(undefined, 'INSERT INTO t (id, n, flag) VALUES ($1, $2, $3)', ['a', 1, true])).toEqual([]);
    await db.rows(undefined, 'INSERT INTO t (id, n, flag) VALUES ($1, $2, $3)', ['b', 2, false]);
    const updated = await db.rows(undefined, 'UPDATE t SET n = n + $1 WHERE id = $2 RETURNING n', [10, 'a']);
    expect(updated).toEqual([{ n: 11 }]);
    expect(await db.rows(undefined, 'SELECT id FROM t WHERE flag = $1 ORDER BY id', [false])).toEqual([{ id: 'b' }]);
    expect(await db.rows(undefined, 'SELECT id FROM t WHERE n > $1', [100])).toEqual([]);
  });

  it('names row properties exactly as the result columns, whatever characters they hold; a later duplicate wins', async () => {
    await db.rows(undefined, 'INSERT INTO t (id, n, flag) VALUES ($1, $2, $3)', ['a', 1, true]);
    const rows = await db.rows(
      undefined,
      `SELECT id AS "t.id", n AS "we""ird \\ name", 'x' AS "constructor", 'p' AS "__proto__", 1 AS dup, 2 AS dup, NULL AS "empty" FROM t`,
      [],
    );
    expect(rows).toEqual([
      { 't.id': 'a', 'we"ird \\ name': 1, constructor: 'x', ['__proto__']: 'p', dup: 2, empty: null },
    ]);
    expect(Object.keys(rows[0] as object)).toEqual([
      't.id',
      'we"ird \\ name',
      'constructor',
      '__proto__',
      'dup',
      'empty',
    ]);
    expect(Object.getPrototypeOf(rows[0])).toBe(Object.prototype);
  });

  it('reports a failed statement as TypeORM does, so unique violations are recognised', async () => {
    await db.rows(undefined, 'INSERT INTO t (id, n, flag) VALUES ($1, $2, $3)', ['a', 1, true]);
    const failure = await db
      .rows(undefined, 'INSERT INTO t (id, n, flag) VALUES ($1, $2, $3)', ['a', 2, true])
      .catch((error: unknown) => error);
    expect(failure).toBeInstanceOf(QueryFailedError);
    expect(isUniqueViolation(failure)).toBe(true);
    await expect(db.rows(undefined, 'SELECT nope FROM t', [])).rejects.toBeInstanceOf(QueryFailedError);
  });

  it('runs inside the open transaction: a rollback takes its writes back', async () => {
    await expect(
      db.transaction(async (tx) => {
        await db.execute(tx, 'INSERT INTO t (id, n, flag) VALUES ($1, $2, $3)', ['x', 1, true]);
        expect(await db.rows(tx, 'SELECT id FROM t', [])).toEqual([{ id: 'x' }]);
        throw new Error('roll back');
      }),
    ).rejects.toThrow('roll back');
    expect(await db.rows(undefined, 'SELECT id FROM t', [])).toEqual([]);
  });

  it('counts the rows a statement changed, and refuses statements on a transaction that has ended', async () => {
    let ended: unknown;
    await db.transaction(async (tx) => {
      ended = tx;
      expect(await db.execute(tx, 'INSERT INTO t (id, n, flag) VALUES ($1, $2, $3)', ['a', 1, true])).toBe(1);
      await db.execute(tx, 'INSERT INTO t (id, n, flag) VALUES ($1, $2, $3)', ['b', 1, true]);
      expect(await db.execute(tx, 'UPDATE t SET n = n + 1 WHERE n = $1', [1])).toBe(2);
      expect(await db.execute(tx, 'UPDATE t SET n = n + 1 WHERE id = $1 RETURNING id', ['a'])).toBe(1);
      expect(await db.execute(tx, 'DELETE FROM t WHERE id = $1', ['nobody'])).toBe(0);
    });
    await expect(db.rows(ended as never, 'SELECT id FROM t', [])).rejects.toThrow('transaction that has ended');
  });

  it('inserts an entity with its column conversions, leaving undefined properties to their defaults', async () => {
    const seenAt = new Date(1_764_000_000_123);
    await db.insert(undefined, Thing, Object.assign(new Thing(), { id: 'a', done: true, seenAt }));
    await db.insert(undefined, Thing, Object.assign(new Thing(), { id: 'b', done: false, count: 2, seenAt: null }));
    expect(await db.rows(undefined, 'SELECT * FROM things ORDER BY id', [])).toEqual([
      { id: 'a', done: 1, count: 7, seen_at: 1_764_000_000_123 },
      { id: 'b', done: 0, count: 2, seen_at: null },
    ]);
    const [a] = await db.select(undefined, Thing, 'id = $1', ['a']);
    expect(a).toEqual(Object.assign(new Thing(), { id: 'a', done: true, count: 7, seenAt }));
    const again = db.insert(undefined, Thing, Object.assign(new Thing(), { id: 'a', done: true }));
    await expect(again).rejects.toBeInstanceOf(QueryFailedError);
  });

  it('inserts with a suffix (a conflict ignored counts 0), updates with converted values, reads an entity beside another', async () => {
    await db.insert(undefined, Thing, Object.assign(new Thing(), { id: 'a', done: false, seenAt: null }));
    const again = Object.assign(new Thing(), { id: 'a', done: true, seenAt: null });
    expect(await db.insert(undefined, Thing, again, ' ON CONFLICT DO NOTHING')).toBe(0);
    const seenAt = new Date(1_764_000_000_456);
    expect(await db.updateById(undefined, Thing, 'a', { done: true, seenAt })).toBe(true);
    expect(await db.updateById(undefined, Thing, 'a', { count: 1 }, 'done = 0')).toBe(false);
    expect(db.assignments(Thing, { done: true, seenAt })).toEqual({
      sets: ['"done" = $1', '"seen_at" = $2'],
      params: [1, 1_764_000_000_456],
    });
    const [row] = await db.rows<Record<string, unknown>>(
      undefined,
      `SELECT ${db.columns(Thing, 'x')}, 'other' AS other FROM things x WHERE x.id = $1`,
      ['a'],
    );
    expect(row.other).toBe('other');
    expect(db.hydrate(Thing, row, 'x')).toEqual(Object.assign(new Thing(), { id: 'a', done: true, count: 7, seenAt }));
    expect(db.table(Thing)).toBe('things');
  });
});

describe('Database on PostgreSQL (named statements, in a transaction or on the pool)', () => {
  const url = process.env.TEST_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
  const schema = `raw_sql_${process.pid}_${Date.now().toString(36)}`;
  let dataSource: DataSource;
  let db: Database;

  beforeAll(async () => {
    dataSource = new DataSource({ type: 'postgres', url, extra: { options: `-c search_path=${schema}` } });
    await dataSource.initialize();
    await dataSource.query(`CREATE SCHEMA ${schema}`);
    await dataSource.query('CREATE TABLE t (id varchar PRIMARY KEY, n integer NOT NULL)');
    db = new Database(dataSource);
  }, 60_000);
  afterAll(async () => {
    await dataSource.query(`DROP SCHEMA ${schema} CASCADE`);
    await dataSource.destroy();
  }, 60_000);

  it('runs the same text again on the connection, returns RETURNING rows, and reports failures as TypeORM does', async () => {
    const failure = await db
      .transaction(async (tx) => {
        for (const id of ['a', 'b', 'c']) await db.execute(tx, 'INSERT INTO t (id, n) VALUES ($1, $2)', [id, 1]);
        expect(await db.rows(tx, 'UPDATE t SET n = n + $1 WHERE id = $2 RETURNING n', [5, 'b'])).toEqual([{ n: 6 }]);
        expect(await db.execute(tx, 'UPDATE t SET n = n + 1 WHERE n = $1', [1])).toBe(2);
        await db.execute(tx, 'INSERT INTO t (id, n) VALUES ($1, $2)', ['a', 2]);
      })
      .catch((error: unknown) => error);
    expect(failure).toBeInstanceOf(QueryFailedError);
    expect(isUniqueViolation(failure)).toBe(true);
    // the failed transaction left nothing; outside a transaction the statement runs on the pool
    expect(await db.rows(undefined, 'SELECT id FROM t', [])).toEqual([]);
    await db.transaction((tx) => db.execute(tx, 'INSERT INTO t (id, n) VALUES ($1, $2)', ['z', 1]));
    expect(await db.rows(undefined, 'SELECT id, n FROM t', [])).toEqual([{ id: 'z', n: 1 }]);
  });

  it('outside a transaction, runs on pooled connections (the schema set) without a TypeORM query runner, and reports failures', async () => {
    await db.transaction((tx) => db.execute(tx, 'INSERT INTO t (id, n) VALUES ($1, $2)', ['p', 7]));
    const runners = jest.spyOn(dataSource, 'createQueryRunner');
    // more at once than one connection: several pooled connections prepare the statement
    const reads = await Promise.all(
      Array.from({ length: 12 }, () => db.rows<{ n: number }>(undefined, 'SELECT n FROM t WHERE id = $1', ['p'])),
    );
    expect(reads).toEqual(Array.from({ length: 12 }, () => [{ n: 7 }]));
    // straight on node-postgres's pool: no TypeORM query runner in between
    expect(runners).not.toHaveBeenCalled();
    runners.mockRestore();
    const failure = await db
      .execute(undefined, 'INSERT INTO t (id, n) VALUES ($1, $2)', ['p', 1])
      .catch((error: unknown) => error);
    expect(failure).toBeInstanceOf(QueryFailedError);
    expect(isUniqueViolation(failure)).toBe(true);
  });
});
