import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DataSource, EntityManager } from 'typeorm';
import { queryRows } from './raw-sql';
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
  });

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
});
