import { Injectable, OnModuleInit } from '@nestjs/common';
import { Counter, Gauge } from 'prom-client';
import { DataSource } from 'typeorm';
import { statementErrorClass } from '../errors/dependency-error';
import { Metrics } from './metrics';

/** What pg-pool shows of itself (TypeORM's PostgreSQL driver holds it as `master`). */
interface PgPool {
  totalCount: number;
  idleCount: number;
  waitingCount: number;
  on(event: 'connect', listener: (client: Queryable) => void): void;
  /** pg-pool's own list: the connections made before this hooked in */
  _clients?: Queryable[];
}

interface Queryable {
  query(...args: unknown[]): unknown;
}

/** better-sqlite3's connection and statements, as far as they are wrapped here. */
interface SqliteConnection {
  prepare(sql: string): Record<string, unknown>;
  exec(sql: string): unknown;
}

const hooked = new WeakSet<object>();

/**
 * `pv_database_pool_connections{state}` (PostgreSQL: in_use, idle, waiting, read from the pool when
 * scraped; SQLite has one connection and no pool, so no sample) and
 * `pv_database_statement_errors_total{code}`: every statement that failed, by a bounded class of its
 * error (statementErrorClass), whether the caller expected it (a unique violation) or not. The
 * statements are counted at the driver's connection, under TypeORM and the hand-written SQL alike:
 * each pg client's `query`, each better-sqlite3 statement's `run`/`all`/`get`/`iterate`.
 */
@Injectable()
export class DatabaseMetrics implements OnModuleInit {
  private readonly errors: Counter<'code'>;
  private readonly byClass = new Map<string, { inc(): void }>();

  constructor(
    private readonly metrics: Metrics,
    private readonly dataSource: DataSource,
  ) {
    this.errors = new Counter({
      name: 'pv_database_statement_errors_total',
      help: 'Database statements that failed, by error class (SQLSTATE class, SQLite result code, connection, other)',
      labelNames: ['code'],
      registers: [metrics.registry],
    });
  }

  onModuleInit(): void {
    const driver = this.dataSource.driver as unknown as { master?: PgPool; databaseConnection?: SqliteConnection };
    if (driver.master) this.watchPool(driver.master);
    else if (this.dataSource.options.type === 'better-sqlite3') this.watchSqlite(driver);
  }

  /** One failed statement. */
  count(error: unknown): void {
    const code = statementErrorClass(error);
    let child = this.byClass.get(code);
    if (!child) this.byClass.set(code, (child = this.errors.labels(code)));
    child.inc();
  }

  private watchPool(pool: PgPool): void {
    new Gauge({
      name: 'pv_database_pool_connections',
      help: 'PostgreSQL pool connections: in_use (lent to a statement or transaction), idle, waiting (callers waiting for one)',
      labelNames: ['state'],
      registers: [this.metrics.registry],
      collect() {
        this.set({ state: 'in_use' }, pool.totalCount - pool.idleCount);
        this.set({ state: 'idle' }, pool.idleCount);
        this.set({ state: 'waiting' }, pool.waitingCount);
      },
    });
    for (const client of pool._clients ?? []) this.watchClient(client);
    pool.on('connect', (client) => this.watchClient(client));
  }

  /** node-postgres's query: with a callback (TypeORM) or a promise (the hand-written SQL). */
  private watchClient(client: Queryable): void {
    if (hooked.has(client)) return;
    hooked.add(client);
    const query = client.query;
    const failed = (error: unknown) => this.count(error);
    client.query = function (this: unknown, ...args: unknown[]) {
      const last = args.length - 1;
      const done = args[last];
      if (typeof done === 'function') {
        args[last] = (error: unknown, ...rest: unknown[]) => {
          if (error) failed(error);
          return (done as (...a: unknown[]) => unknown)(error, ...rest);
        };
        return query.apply(this, args);
      }
      const result = query.apply(this, args);
      // a handler of its own, which leaves the caller's promise (and its rejection) as it is
      if (result && typeof (result as Promise<unknown>).then === 'function') {
        (result as Promise<unknown>).then(undefined, failed);
      }
      return result;
    };
  }

  /** The connection can be opened again (after a disk fault): each one is wrapped as it is set. */
  private watchSqlite(driver: { databaseConnection?: SqliteConnection }): void {
    let current = driver.databaseConnection;
    if (current) this.watchSqliteConnection(current);
    Object.defineProperty(driver, 'databaseConnection', {
      configurable: true,
      enumerable: true,
      get: () => current,
      set: (connection: SqliteConnection | undefined) => {
        if (connection) this.watchSqliteConnection(connection);
        current = connection;
      },
    });
  }

  private watchSqliteConnection(db: SqliteConnection): void {
    if (hooked.has(db)) return;
    hooked.add(db);
    const prepare = db.prepare;
    const exec = db.exec;
    const guard =
      <A extends unknown[], R>(fn: (...args: A) => R, self: unknown) =>
      (...args: A): R => {
        try {
          return fn.apply(self, args);
        } catch (error) {
          this.count(error);
          throw error;
        }
      };
    db.exec = (sql: string) => guard(exec, db)(sql);
    db.prepare = (sql: string) => {
      const statement = guard(prepare, db)(sql);
      for (const name of ['run', 'all', 'get', 'iterate']) {
        const method = statement[name];
        if (typeof method === 'function') statement[name] = guard(method as (...a: unknown[]) => unknown, statement);
      }
      return statement;
    };
  }
}
