import type { DataSource, QueryRunner } from 'typeorm';
import { inSpan, KIND, tracingActive } from './tracing';

type Query = QueryRunner['query'];

/** A span with the statement's operation and the database only (the text is long, values never). */
export function statementSpan<T>(postgres: boolean, sql: string, run: () => Promise<T>): Promise<T> {
  if (!tracingActive()) return run();
  const system = postgres ? 'postgresql' : 'sqlite';
  const operation = /^\s*(\w+)/.exec(sql)?.[1]?.toUpperCase() ?? 'QUERY';
  return inSpan(
    operation,
    KIND.CLIENT,
    { 'db.system': system, 'db.system.name': system, 'db.operation.name': operation },
    run,
  );
}

const traced = new WeakSet<QueryRunner>();

/**
 * The statements TypeORM runs itself (repositories, query builders, its BEGIN and COMMIT on
 * SQLite) as spans too: each query runner's `query` is wrapped (only when tracing is on).
 */
export function traceTypeormQueries(dataSource: DataSource): void {
  const driver = dataSource.driver as unknown as { createQueryRunner(mode: string): QueryRunner };
  const postgres = dataSource.options.type === 'postgres';
  const create = driver.createQueryRunner.bind(driver);
  driver.createQueryRunner = (mode: string) => {
    const runner = create(mode);
    if (traced.has(runner)) return runner;
    traced.add(runner);
    const query = runner.query.bind(runner) as Query;
    runner.query = ((sql: string, ...rest: unknown[]) =>
      statementSpan(postgres, sql, () => (query as (...args: unknown[]) => Promise<unknown>)(sql, ...rest))) as Query;
    return runner;
  };
}
