import { DataSource, QueryFailedError } from 'typeorm';
import { queryRows } from './raw-sql';
import { isUniqueViolation } from './unique-violation';

describe('queryRows on SQLite (straight on better-sqlite3)', () => {
  let dataSource: DataSource;

  beforeEach(async () => {
    dataSource = new DataSource({ type: 'better-sqlite3', database: ':memory:' });
    await dataSource.initialize();
    await dataSource.query('CREATE TABLE t (id varchar PRIMARY KEY, n integer NOT NULL, flag boolean NOT NULL)');
  });
  afterEach(() => dataSource.destroy());

  it('binds $n parameters in order, booleans as 0/1, and returns the rows of SELECT and RETURNING', async () => {
    const manager = dataSource.manager;
    expect(await queryRows(manager, 'INSERT INTO t (id, n, flag) VALUES ($1, $2, $3)', ['a', 1, true])).toEqual([]);
    await queryRows(manager, 'INSERT INTO t (id, n, flag) VALUES ($1, $2, $3)', ['b', 2, false]);
    const updated = await queryRows(manager, 'UPDATE t SET n = n + $1 WHERE id = $2 RETURNING n', [10, 'a']);
    expect(updated).toEqual([{ n: 11 }]);
    expect(await queryRows(manager, 'SELECT id FROM t WHERE flag = $1 ORDER BY id', [false])).toEqual([{ id: 'b' }]);
    expect(await queryRows(manager, 'SELECT id FROM t WHERE n > $1', [100])).toEqual([]);
  });

  it('reports a failed statement as TypeORM does, so unique violations are recognised', async () => {
    const manager = dataSource.manager;
    await queryRows(manager, 'INSERT INTO t (id, n, flag) VALUES ($1, $2, $3)', ['a', 1, true]);
    const failure = await queryRows(manager, 'INSERT INTO t (id, n, flag) VALUES ($1, $2, $3)', ['a', 2, true]).catch(
      (error: unknown) => error,
    );
    expect(failure).toBeInstanceOf(QueryFailedError);
    expect(isUniqueViolation(failure)).toBe(true);
    await expect(queryRows(manager, 'SELECT nope FROM t', [])).rejects.toBeInstanceOf(QueryFailedError);
  });

  it('runs inside the open transaction: a rollback takes its writes back', async () => {
    await expect(
      dataSource.transaction(async (manager) => {
        await queryRows(manager, 'INSERT INTO t (id, n, flag) VALUES ($1, $2, $3)', ['x', 1, true]);
        expect(await queryRows(manager, 'SELECT id FROM t', [])).toEqual([{ id: 'x' }]);
        throw new Error('roll back');
      }),
    ).rejects.toThrow('roll back');
    expect(await queryRows(dataSource.manager, 'SELECT id FROM t', [])).toEqual([]);
  });
});
