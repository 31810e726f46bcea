import { mkdtempSync, rmSync } from 'node:fs';
import { Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DataSource, EntityManager, QueryFailedError } from 'typeorm';
import { dataSourceOptions } from './data-source-options';
import { createPgSchema, dropPgSchema, PG_URL } from '../../test/support/test-app';
import { queryRows, sqliteConnection } from './raw-sql';
import { MAX_GROUP_COMMIT, TransactionRunner } from './transaction-runner';

describe('TransactionRunner on SQLite (queued units, group commit)', () => {
  let dir: string;
  let dataSource: DataSource;
  let reader: DataSource;
  let runner: TransactionRunner;
  let transactions: number;

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
  const insert = (manager: EntityManager, id: string, parent: string | null = null) =>
    queryRows(manager, 'INSERT INTO items (id, parent) VALUES ($1, $2)', [id, parent]);
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
    runner = new TransactionRunner(dataSource);
    transactions = 0;
    const transaction = dataSource.transaction.bind(dataSource) as (work: unknown) => Promise<unknown>;
    jest.spyOn(dataSource, 'transaction').mockImplementation(((work: unknown) => {
      transactions++;
      return transaction(work);
    }) as typeof dataSource.transaction);
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
          .run(async (manager) => {
            await insert(manager, id);
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
      runner.run(async (manager) => {
        // what the first unit sets off for the event loop's next turn (a response write, say)
        if (i === 0) setImmediate(() => order.push('next turn'));
        await insert(manager, `item-${i}`);
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
        return (await queryRows<{ id: string }>(m, 'SELECT id FROM items ORDER BY id', [])).map((r) => r.id);
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
      return (await queryRows<{ id: string }>(m, 'SELECT id FROM items ORDER BY id', [])).map((r) => r.id);
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
    /** What better-sqlite3 throws, as TypeORM wraps it. */
    const diskFull = () =>
      new QueryFailedError('COMMIT', [], Object.assign(new Error('database or disk is full'), { code: 'SQLITE_FULL' }));
    const db = () => sqliteConnection(dataSource);
    /** The next commits fail as SQLite's do: `rolledBack` says whether SQLite ended the transaction itself. */
    const failCommits = (...rolledBack: boolean[]) => {
      const queryRunner = dataSource.createQueryRunner();
      const commit = queryRunner.commitTransaction.bind(queryRunner);
      const errors: QueryFailedError[] = [];
      jest.spyOn(queryRunner, 'commitTransaction').mockImplementation(async () => {
        const rollBack = rolledBack.shift();
        if (rollBack === undefined) return commit();
        if (rollBack) db().exec('ROLLBACK');
        const error = diskFull();
        errors.push(error);
        throw error;
      });
      return errors;
    };
    const group = (...ids: string[]) => Promise.allSettled(ids.map((id) => runner.run((m) => insert(m, id))));

    it('rejects the group with the original error and leaves the connection outside any transaction, also when SQLite rolled back by itself', async () => {
      // as on a full disk: the first COMMIT is rolled back by SQLite, the next one leaves its transaction open
      const errors = failCommits(true, false);
      const first = await group('a', 'b');
      const second = await group('c');
      expect(first.map((r) => (r as PromiseRejectedResult).reason)).toEqual([errors[0], errors[0]]);
      expect((first[0] as PromiseRejectedResult).reason).toBe(errors[0]);
      expect((second[0] as PromiseRejectedResult).reason).toBe(errors[1]);
      expect(db().inTransaction).toBe(false);
      // a later commit is a real one: another connection sees it (not a savepoint inside a transaction never ended)
      await group('after');
      expect(await committed()).toEqual(['after']);
      expect(db().inTransaction).toBe(false);
    });

    it('replaces the connection when ROLLBACK cannot end the transaction', async () => {
      const errors = failCommits(false);
      const old = db();
      const queryRunner = dataSource.createQueryRunner();
      jest.spyOn(queryRunner, 'rollbackTransaction').mockRejectedValueOnce(new Error('rollback failed'));
      const exec = old.exec.bind(old);
      jest.spyOn(old, 'exec').mockImplementation((sql: string) => {
        if (/ROLLBACK/i.test(sql)) throw new Error('rollback failed');
        return exec(sql);
      });
      const [failed] = await group('lost');
      expect((failed as PromiseRejectedResult).reason).toBe(errors[0]);
      expect(db()).not.toBe(old);
      expect(old.open).toBe(false);
      await group('after');
      expect(await committed()).toEqual(['after']);
    });

    it("fails the whole group with the cause when a unit's failure made SQLite roll the transaction back", async () => {
      const cause = diskFull();
      const results = await Promise.allSettled([
        runner.run((m) => insert(m, 'a')),
        runner.run(async (m) => {
          await insert(m, 'b');
          db().exec('ROLLBACK');
          throw cause;
        }),
        runner.run((m) => insert(m, 'c')),
      ]);
      expect(results.map((r) => (r as PromiseRejectedResult).reason)).toEqual([cause, cause, cause]);
      expect(db().inTransaction).toBe(false);
      await group('after');
      expect(await committed()).toEqual(['after']);
    });
  });
});

describe('TransactionRunner on PostgreSQL (pipelined BEGIN, statements issued together)', () => {
  let schema: string;
  let dataSource: DataSource;
  let runner: TransactionRunner;

  const insert = (manager: EntityManager, id: string) => queryRows(manager, 'INSERT INTO items (id) VALUES ($1)', [id]);
  const committed = async () =>
    ((await dataSource.query('SELECT id FROM items ORDER BY id')) as Array<{ id: string }>).map((r) => r.id);

  beforeAll(async () => {
    schema = await createPgSchema();
    dataSource = await new DataSource(
      dataSourceOptions({ DATABASE_URL: PG_URL, DATABASE_SCHEMA: schema, DATABASE_POOL_SIZE: 2 }),
    ).initialize();
    await dataSource.query('CREATE TABLE items (id varchar PRIMARY KEY)');
    runner = new TransactionRunner(dataSource);
  }, 60_000);
  afterAll(async () => {
    await dataSource?.destroy();
    if (schema) await dropPgSchema(schema);
  }, 60_000);
  beforeEach(() => dataSource.query('DELETE FROM items'));

  it('runs the unit in one transaction: its statements see each other, others see them only after COMMIT', async () => {
    let seenInside: unknown[] = [];
    let seenOutside: string[] = [];
    await runner.run(async (manager) => {
      await Promise.all([insert(manager, 'a'), insert(manager, 'b')]);
      seenInside = (await queryRows<{ n: string }>(manager, 'SELECT count(*) AS n FROM items', [])).map((r) => r.n);
      seenOutside = await committed();
    });
    expect([seenInside, seenOutside, await committed()]).toEqual([['2'], [], ['a', 'b']]);
  });

  it('sends BEGIN with the first statement, and statements issued together, in one write to the socket', async () => {
    const socket = Socket.prototype as unknown as { _write: () => void; _writev: () => void };
    const write = jest.spyOn(socket, '_write');
    const writev = jest.spyOn(socket, '_writev');
    try {
      await runner.run(async (manager) => {
        await insert(manager, 'a');
        await Promise.all([insert(manager, 'b'), insert(manager, 'c')]);
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
    await insert(dataSource.manager, 'taken');
    const outcome = runner.run(async (manager) => {
      await insert(manager, 'first');
      await Promise.all([insert(manager, 'second'), insert(manager, 'taken')]);
    });
    await expect(outcome).rejects.toThrow(/duplicate key/);
    expect(await committed()).toEqual(['taken']);
    // the connection went back to the pool clean: the next unit commits
    await runner.run((manager) => insert(manager, 'after'));
    expect(await committed()).toEqual(['after', 'taken']);
  });

  it('rolls back a unit that throws before or after its statements', async () => {
    await expect(runner.run(() => Promise.reject(new Error('before')))).rejects.toThrow('before');
    await expect(
      runner.run(async (manager) => {
        await insert(manager, 'x');
        throw new Error('after');
      }),
    ).rejects.toThrow('after');
    expect(await committed()).toEqual([]);
  });

  it("tells TypeORM's own helpers that a transaction is open, so they do not commit in the middle of it", async () => {
    const outcome = runner.run(async (manager) => {
      expect(manager.queryRunner?.isTransactionActive).toBe(true);
      await manager.query('INSERT INTO items (id) VALUES ($1)', ['typeorm']);
      throw new Error('undo');
    });
    await expect(outcome).rejects.toThrow('undo');
    expect(await committed()).toEqual([]);
  });

  it('runs many units at once on a pool smaller than their number, each whole', async () => {
    await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        runner.run((manager) => Promise.all([insert(manager, `p${i}`), insert(manager, `q${i}`)])),
      ),
    );
    expect(await committed()).toHaveLength(40);
  });
});
