import { mkdtempSync, rmSync } from 'node:fs';
import { Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DataSource, QueryFailedError } from 'typeorm';
import { dataSourceOptions } from '../../src/database/data-source-options';
import { createPgSchema, dropPgSchema, PG_URL } from '../support/test-app';
import { changedNothing, closing, Database, Tx } from '../../src/database/sql';
import { MAX_GROUP_COMMIT, sqliteConnection } from '../../src/database/sqlite.adapter';

/** What better-sqlite3 throws on a full disk. */
const diskFull = () => Object.assign(new Error('database or disk is full'), { code: 'SQLITE_FULL' });

describe('Database.transaction on SQLite (queued units, group commit)', () => {
  let dir: string;
  let dataSource: DataSource;
  let reader: DataSource;
  let runner: { run<T>(work: (tx: Tx) => Promise<T>): Promise<T> };
  let db: Database;
  let transactions: number;
  /** What the next COMMITs do: fail as SQLite's do, `true` when SQLite ended the transaction itself. */
  let commitFailures: boolean[];
  let commitErrors: Error[];

  const open = async (file: string) => {
    const ds = new DataSource({
      type: 'better-sqlite3',
      database: file,
      prepareDatabase: (db: { pragma(sql: string): unknown }) => {
        db.pragma('journal_mode = WAL');
        db.pragma('foreign_keys = ON');
      },
    });
    return ds.initialize();
  };
  const insert = (tx: Tx, id: string, parent: string | null = null) =>
    db.execute(tx, 'INSERT INTO items (id, parent) VALUES ($1, $2)', [id, parent]);
  /** What another connection sees: only committed rows. */
  const committed = async () =>
    ((await reader.query('SELECT id FROM items ORDER BY id')) as Array<{ id: string }>).map((r) => r.id);

  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), 'pv-tx-'));
    dataSource = await open(join(dir, 'db.sqlite'));
    await dataSource.query(
      'CREATE TABLE items (id varchar PRIMARY KEY, parent varchar REFERENCES items(id) DEFERRABLE INITIALLY DEFERRED)',
    );
    reader = await open(join(dir, 'db.sqlite'));
    db = new Database(dataSource);
    runner = { run: (work) => db.transaction(work) };
    transactions = 0;
    commitFailures = [];
    commitErrors = [];
    // the connection's BEGIN is counted, its COMMIT can be made to fail
    const connection = sqliteConnection(dataSource);
    const prepare = connection.prepare.bind(connection);
    jest.spyOn(connection, 'prepare').mockImplementation((sql: string) => {
      const statement = prepare(sql);
      const run = statement.run.bind(statement);
      if (sql === 'BEGIN') statement.run = (...params: unknown[]) => (transactions++, run(...params));
      if (sql === 'COMMIT') {
        statement.run = (...params: unknown[]) => {
          const rollBack = commitFailures.shift();
          if (rollBack === undefined) return run(...params);
          if (rollBack) connection.exec('ROLLBACK');
          const error = diskFull();
          commitErrors.push(error);
          throw error;
        };
      }
      return statement;
    });
  });
  afterEach(async () => {
    await reader.destroy();
    await dataSource.destroy();
    rmSync(dir, { recursive: true, force: true });
  }, 60_000);

  it('lets units queued in one turn of the event loop share a commit, and hands each result out only once it is committed', async () => {
    const ids = Array.from({ length: 40 }, (_, i) => `item-${String(i).padStart(2, '0')}`);
    const seenAtResolve: boolean[] = [];
    await Promise.all(
      ids.map((id) =>
        runner
          .run(async (tx) => {
            await insert(tx, id);
            return id;
          })
          .then(async (value) => {
            expect(value).toBe(id);
            seenAtResolve.push((await committed()).includes(id));
          }),
      ),
    );
    expect(seenAtResolve).toEqual(ids.map(() => true));
    expect(await committed()).toEqual(ids);
    // groups of at most MAX_GROUP_COMMIT
    expect(transactions).toBe(Math.ceil(40 / MAX_GROUP_COMMIT));
    expect(transactions).toBeGreaterThan(1);
  });

  it("gives the event loop a turn between groups, so one group's answers go out before the next group runs", async () => {
    const order: string[] = [];
    const units = Array.from({ length: MAX_GROUP_COMMIT + 3 }, (_, i) =>
      runner.run(async (tx) => {
        // what the first unit sets off for the event loop's next turn (a response write, say)
        if (i === 0) setImmediate(() => order.push('next turn'));
        await insert(tx, `item-${i}`);
        order.push(`unit ${i}`);
      }),
    );
    await Promise.all(units);
    expect(order.indexOf('next turn')).toBe(MAX_GROUP_COMMIT);
    expect(order).toHaveLength(MAX_GROUP_COMMIT + 4);
  });

  it('rolls back a failing unit alone; the others of its group commit', async () => {
    const results = await Promise.allSettled([
      runner.run((m) => insert(m, 'first')),
      runner.run((m) => insert(m, 'a')),
      runner.run(async (m) => {
        await insert(m, 'doomed');
        throw new Error('unit failed');
      }),
      runner.run((m) => insert(m, 'a')), // duplicate key: fails at its statement
      runner.run(async (m) => {
        await insert(m, 'b');
        return (await db.rows<{ id: string }>(m, 'SELECT id FROM items ORDER BY id', [])).map((r) => r.id);
      }),
    ]);
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'fulfilled', 'rejected', 'rejected', 'fulfilled']);
    expect((results[2] as PromiseRejectedResult).reason).toEqual(new Error('unit failed'));
    // a later unit of the group sees what the earlier ones left, not what was rolled back
    expect((results[4] as PromiseFulfilledResult<string[]>).value).toEqual(['a', 'b', 'first']);
    expect(await committed()).toEqual(['a', 'b', 'first']);
    expect(transactions).toBe(1);
  });

  it('rejects every unit of a group whose commit fails, and writes none of them', async () => {
    await runner.run((m) => insert(m, 'kept'));
    const results = await Promise.allSettled([
      runner.run((m) => insert(m, 'x')),
      // violates a deferred foreign key: only the COMMIT notices
      runner.run((m) => insert(m, 'orphan', 'missing')),
      runner.run((m) => insert(m, 'y')),
    ]);
    expect(results.map((r) => r.status)).toEqual(['rejected', 'rejected', 'rejected']);
    expect(String((results[0] as PromiseRejectedResult).reason)).toMatch(/FOREIGN KEY/);
    expect(await committed()).toEqual(['kept']);
    expect(transactions).toBe(2);
    // and the runner goes on
    await runner.run((m) => insert(m, 'after'));
    expect(await committed()).toEqual(['after', 'kept']);
  });

  it('runs units queued in later turns in later transactions, each seeing the earlier ones', async () => {
    const first = runner.run((m) => insert(m, 'one'));
    await new Promise((resolve) => setImmediate(resolve));
    const second = runner.run(async (m) => {
      await insert(m, 'two');
      return (await db.rows<{ id: string }>(m, 'SELECT id FROM items ORDER BY id', [])).map((r) => r.id);
    });
    await first;
    expect(await second).toEqual(['one', 'two']);
    expect(transactions).toBe(2);
  });

  it('rolls back a unit that fails alone', async () => {
    await expect(
      runner.run(async (m) => {
        await insert(m, 'alone');
        throw new Error('nope');
      }),
    ).rejects.toThrow('nope');
    expect(await committed()).toEqual([]);
  });

  describe('after a failed COMMIT (a full disk)', () => {
    const connection = () => sqliteConnection(dataSource);
    /** The next commits fail as SQLite's do: `rolledBack` says whether SQLite ended the transaction itself. */
    const failCommits = (...rolledBack: boolean[]) => {
      commitFailures.push(...rolledBack);
      return commitErrors;
    };
    /** The failure as the seam reports it: TypeORM's QueryFailedError around the driver's error. */
    const reported = (error: Error) => expect.objectContaining({ driverError: error });
    const group = (...ids: string[]) => Promise.allSettled(ids.map((id) => runner.run((m) => insert(m, id))));

    it('rejects the group with the original error and leaves the connection outside any transaction, also when SQLite rolled back by itself', async () => {
      // as on a full disk: the first COMMIT is rolled back by SQLite, the next one leaves its transaction open
      const errors = failCommits(true, false);
      const first = await group('a', 'b');
      const second = await group('c');
      const [firstA, firstB] = first.map((r) => (r as PromiseRejectedResult).reason);
      expect(firstA).toBeInstanceOf(QueryFailedError);
      expect(firstA).toEqual(reported(errors[0]));
      expect(firstB).toBe(firstA);
      expect((second[0] as PromiseRejectedResult).reason).toEqual(reported(errors[1]));
      expect(connection().inTransaction).toBe(false);
      // a later commit is a real one: another connection sees it (not a savepoint inside a transaction never ended)
      await group('after');
      expect(await committed()).toEqual(['after']);
      expect(connection().inTransaction).toBe(false);
    });

    it('replaces the connection when ROLLBACK cannot end the transaction', async () => {
      const errors = failCommits(false);
      const old = connection();
      const exec = old.exec.bind(old);
      jest.spyOn(old, 'exec').mockImplementation((sql: string) => {
        if (/ROLLBACK/i.test(sql)) throw new Error('rollback failed');
        return exec(sql);
      });
      const [failed] = await group('lost');
      expect((failed as PromiseRejectedResult).reason).toEqual(reported(errors[0]));
      expect(connection()).not.toBe(old);
      expect(old.open).toBe(false);
      await group('after');
      expect(await committed()).toEqual(['after']);
    });

    it("fails the whole group with the cause when a unit's failure made SQLite roll the transaction back", async () => {
      const cause = new QueryFailedError('INSERT', [], diskFull());
      const results = await Promise.allSettled([
        runner.run((m) => insert(m, 'a')),
        runner.run(async (m) => {
          await insert(m, 'b');
          connection().exec('ROLLBACK');
          throw cause;
        }),
        runner.run((m) => insert(m, 'c')),
      ]);
      expect(results.map((r) => (r as PromiseRejectedResult).reason)).toEqual([cause, cause, cause]);
      expect(connection().inTransaction).toBe(false);
      await group('after');
      expect(await committed()).toEqual(['after']);
    });
  });
});

describe('Database.transaction on PostgreSQL (pipelined BEGIN, statements issued together)', () => {
  let schema: string;
  let dataSource: DataSource;
  let db: Database;

  const insert = (tx: Tx | undefined, id: string) => db.execute(tx, 'INSERT INTO items (id) VALUES ($1)', [id]);
  const committed = async () =>
    ((await dataSource.query('SELECT id FROM items ORDER BY id')) as Array<{ id: string }>).map((r) => r.id);

  beforeAll(async () => {
    schema = await createPgSchema();
    dataSource = await new DataSource(dataSourceOptions({ url: PG_URL, schema, poolSize: 2 })).initialize();
    await dataSource.query('CREATE TABLE items (id varchar PRIMARY KEY)');
    db = new Database(dataSource);
  }, 60_000);
  afterAll(async () => {
    await dataSource?.destroy();
    if (schema) await dropPgSchema(schema);
  }, 60_000);
  beforeEach(() => dataSource.query('DELETE FROM items'));

  it('runs the unit in one transaction: its statements see each other, others see them only after COMMIT', async () => {
    let seenInside: unknown[] = [];
    let seenOutside: string[] = [];
    await db.transaction(async (tx) => {
      await Promise.all([insert(tx, 'a'), insert(tx, 'b')]);
      seenInside = (await db.rows<{ n: string }>(tx, 'SELECT count(*) AS n FROM items', [])).map((r) => r.n);
      seenOutside = await committed();
    });
    expect([seenInside, seenOutside, await committed()]).toEqual([['2'], [], ['a', 'b']]);
  });

  it('sends BEGIN with the first statement, and statements issued together, in one write to the socket', async () => {
    const socket = Socket.prototype as unknown as { _write: () => void; _writev: () => void };
    const write = jest.spyOn(socket, '_write');
    const writev = jest.spyOn(socket, '_writev');
    try {
      await db.transaction(async (tx) => {
        await insert(tx, 'a');
        await Promise.all([insert(tx, 'b'), insert(tx, 'c')]);
      });
      // BEGIN + a, b + c, COMMIT (one write per statement would be five)
      expect(write.mock.calls.length + writev.mock.calls.length).toBe(3);
    } finally {
      write.mockRestore();
      writev.mockRestore();
    }
    expect(await committed()).toEqual(['a', 'b', 'c']);
  });

  it('rolls everything back when one of the statements issued together fails', async () => {
    await insert(undefined, 'taken');
    const outcome = db.transaction(async (tx) => {
      await insert(tx, 'first');
      await Promise.all([insert(tx, 'second'), insert(tx, 'taken')]);
    });
    await expect(outcome).rejects.toThrow(/duplicate key/);
    expect(await committed()).toEqual(['taken']);
    // the connection went back to the pool clean: the next unit commits
    await db.transaction((tx) => insert(tx, 'after'));
    expect(await committed()).toEqual(['after', 'taken']);
  });

  it('rolls back a unit that throws before or after its statements', async () => {
    await expect(db.transaction(() => Promise.reject(new Error('before')))).rejects.toThrow('before');
    await expect(
      db.transaction(async (tx) => {
        await insert(tx, 'x');
        throw new Error('after');
      }),
    ).rejects.toThrow('after');
    expect(await committed()).toEqual([]);
  });

  it('refuses statements on a transaction that has ended: its connection is back in the pool', async () => {
    let ended: Tx | undefined;
    await db.transaction(async (tx) => {
      ended = tx;
      await insert(tx, 'inside');
    });
    await expect(insert(ended, 'after the end')).rejects.toThrow('transaction that has ended');
    expect(await committed()).toEqual(['inside']);
  });

  it('a closing write that fails undoes the whole unit: COMMIT is refused', async () => {
    // sent with COMMIT, unanswered when COMMIT leaves: the guard divides by the zero rows it changed
    const guarded =
      'WITH changed AS (UPDATE items SET id = id WHERE id = $1 RETURNING id) SELECT 1 / (SELECT count(*) FROM changed) AS n';
    const outcome = db.transaction(async (tx) => {
      await insert(tx, 'written');
      return closing(Promise.all([insert(tx, 'also written'), db.rows(tx, guarded, ['missing'])]));
    });
    const error = await outcome.catch((failure: unknown) => failure);
    expect(changedNothing(error)).toBe(true);
    expect(await committed()).toEqual([]);
    // the same writes whose guard holds commit, with their result
    await expect(
      db.transaction(async (tx) => {
        await insert(tx, 'written');
        return closing(db.rows(tx, guarded, ['written']).then(() => 'done'));
      }),
    ).resolves.toBe('done');
    expect(await committed()).toEqual(['written']);
  });

  describe('a schema change under prepared statements ("cached plan must not change result type", 0A000)', () => {
    const read = (tx: Tx | undefined) => db.rows<{ id: string; note: unknown }>(tx, 'SELECT id, note FROM items', []);

    beforeEach(() => dataSource.query('ALTER TABLE items ADD COLUMN IF NOT EXISTS note varchar(20)'));
    afterEach(() => dataSource.query('ALTER TABLE items DROP COLUMN IF EXISTS note'));

    /** Prepares `read` on every pooled connection (2), then changes the type of a column it returns. */
    async function preparedThenRetyped(type: string): Promise<void> {
      await insert(undefined, 'a');
      await Promise.all([db.transaction((tx) => read(tx)), db.transaction((tx) => read(tx))]);
      await dataSource.query(`ALTER TABLE items ALTER COLUMN note TYPE ${type}`);
    }

    it('a statement outside a transaction is prepared afresh and runs again, on every connection', async () => {
      await preparedThenRetyped('text');
      const reads = await Promise.all([read(undefined), read(undefined), read(undefined)]);
      expect(reads).toEqual([[{ id: 'a', note: null }], [{ id: 'a', note: null }], [{ id: 'a', note: null }]]);
    });

    it('a unit whose statement met it is rolled back and run once more, whole', async () => {
      await preparedThenRetyped('varchar(40)');
      let runs = 0;
      const outcome = await db.transaction(async (tx) => {
        runs++;
        await insert(tx, `b${runs}`);
        return read(tx);
      });
      // the first run's insert was rolled back with it
      expect([runs, outcome.map((row) => row.id)]).toEqual([2, ['a', 'b2']]);
      expect(await committed()).toEqual(['a', 'b2']);
    });

    it('runs a unit at most twice: a statement refused with 0A000 again is answered with its error', async () => {
      let runs = 0;
      const outcome = db.transaction(async (tx) => {
        runs++;
        // refused with 0A000 on every run ("FOR UPDATE is not allowed with aggregate functions")
        return db.rows(tx, 'SELECT count(*) FROM items FOR UPDATE', []);
      });
      const error = await outcome.catch((failure: unknown) => failure);
      expect([runs, (error as QueryFailedError).driverError]).toEqual([2, expect.objectContaining({ code: '0A000' })]);
    });
  });

  it('runs many units at once on a pool smaller than their number, each whole', async () => {
    await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        db.transaction((tx) => Promise.all([insert(tx, `p${i}`), insert(tx, `q${i}`)])),
      ),
    );
    expect(await committed()).toHaveLength(40);
  });
});
