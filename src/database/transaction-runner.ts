import { Injectable, Optional } from '@nestjs/common';
import { DataSource, EntityManager } from 'typeorm';
import { DependencyOutages } from '../common/errors/dependency-outages';
import { bound } from '../common/tracing/tracing';
import { holdWrites, queryRows, sqliteConnection, type SqliteConnection } from './raw-sql';

/** Most units of work one SQLite commit carries. */
export const MAX_GROUP_COMMIT = 32;

type Work = (manager: EntityManager) => Promise<unknown>;
type Outcome = { ok: true; value: unknown } | { ok: false; error: unknown };

/** The part of node-postgres's client a transaction's own statements use. */
interface PgClient {
  query(text: string): Promise<unknown>;
}

/** What TypeORM's SQLite query runner keeps of the transaction it believes open. */
interface TypeormTransactionState {
  isTransactionActive: boolean;
  transactionDepth: number;
  /** statements it prepared, on the connection they were prepared on */
  stmtCache?: Map<string, unknown>;
}

/** The part of TypeORM's better-sqlite3 driver that holds and opens its one connection. */
interface SqliteDriver {
  databaseConnection: SqliteConnection;
  createDatabaseConnection(): Promise<SqliteConnection>;
}

interface Queued {
  work: Work;
  resolve(value: unknown): void;
  reject(error: unknown): void;
}

/**
 * Runs a unit of work in one transaction.
 *
 * PostgreSQL runs them in parallel and relies on row locks and conditional updates in the
 * repositories. SQLite has one connection and one writer: TypeORM would interleave two
 * transactions on it, so units are queued here and run one after the other. Units that queued up
 * while one ran share the next commit (group commit): each runs in a savepoint of its own, so one
 * that fails is rolled back alone, and every unit's result is handed out only after the commit
 * that made it durable. A commit's cost is mostly writing the pages it changed to the log; units
 * that change the same pages (the events table, an index) then write them once.
 */
@Injectable()
export class TransactionRunner {
  private readonly queue: Queued[] = [];
  private draining = false;
  private readonly serialize: boolean;

  constructor(
    private readonly dataSource: DataSource,
    @Optional() private readonly outages?: DependencyOutages,
  ) {
    this.serialize = dataSource.options.type !== 'postgres';
  }

  get isPostgres(): boolean {
    return !this.serialize;
  }

  run<T>(work: (manager: EntityManager) => Promise<T>): Promise<T> {
    const done = this.runUnit(work);
    // a committed unit ends a database outage, if there was one (a failed one is counted where it is answered)
    return this.outages ? done.then((value) => (this.outages?.succeeded('database'), value)) : done;
  }

  private runUnit<T>(work: (manager: EntityManager) => Promise<T>): Promise<T> {
    if (!this.serialize) return this.postgresTransaction(work);
    return new Promise<T>((resolve, reject) => {
      // the unit's statements belong to its own request's trace, not to the one whose turn runs the group
      this.queue.push({ work: bound(work), resolve: resolve as (value: unknown) => void, reject });
      if (this.draining) return;
      // better-sqlite3 is synchronous: a unit runs start to end without giving other requests a
      // turn, so nothing would ever queue behind it. Starting after the event loop's current
      // round lets the requests that arrived in it queue up and share the commit.
      this.draining = true;
      setImmediate(() => void this.drain());
    });
  }

  /**
   * A transaction on one pooled connection. The pool's connections are in node-postgres's
   * pipeline mode (see data-source-options), so BEGIN is sent without waiting for its answer and
   * the unit's first statement follows it on the wire: one round trip for both. Statements a unit
   * issues together (`Promise.all`) share one too. A failed BEGIN fails every statement after it,
   * so no statement can run outside the transaction.
   */
  private async postgresTransaction<T>(work: (manager: EntityManager) => Promise<T>): Promise<T> {
    const runner = this.dataSource.createQueryRunner();
    try {
      const client = (await runner.connect()) as PgClient;
      holdWrites(client);
      const begun = client.query('BEGIN');
      // TypeORM's own helpers (save, remove) must not open a transaction of their own inside this one
      const state = runner as { isTransactionActive: boolean };
      state.isTransactionActive = true;
      try {
        const result = await work(runner.manager);
        await begun;
        await client.query('COMMIT');
        return result;
      } catch (error) {
        await begun.catch(() => undefined);
        await client.query('ROLLBACK').catch(() => undefined);
        throw error;
      } finally {
        state.isTransactionActive = false;
      }
    } finally {
      await runner.release();
    }
  }

  private async drain(): Promise<void> {
    try {
      while (this.queue.length > 0) {
        const group = this.queue.splice(0, MAX_GROUP_COMMIT);
        const outcomes = await this.commitGroup(group);
        group.forEach((queued, i) => {
          const outcome = outcomes[i];
          if (outcome.ok) queued.resolve(outcome.value);
          else queued.reject(outcome.error);
        });
        // Let the event loop send this group's answers before the next group runs: clients that
        // sent a burst (a gRPC channel delivers 64 calls in one read) get the first answers while
        // the rest are still being written, instead of all of them after the last group.
        if (this.queue.length > 0) await new Promise((resolve) => setImmediate(resolve));
      }
    } finally {
      this.draining = false;
    }
  }

  private async commitGroup(group: Queued[]): Promise<Outcome[]> {
    const outcomes: Outcome[] = [];
    try {
      await this.dataSource.transaction(async (manager) => {
        if (group.length === 1) {
          // alone, a unit needs no savepoint: its failure rolls the transaction back
          outcomes.push({ ok: true, value: await group[0].work(manager) });
          return;
        }
        for (const queued of group) {
          await queryRows(manager, 'SAVEPOINT unit', []);
          try {
            outcomes.push({ ok: true, value: await queued.work(manager) });
          } catch (error) {
            outcomes.push({ ok: false, error });
            // SQLITE_FULL, IOERR, NOMEM may have rolled the whole transaction back: the group is lost
            if (!this.connection().inTransaction) throw error;
            // should this fail, the whole group is rolled back (below) rather than committed half undone
            await queryRows(manager, 'ROLLBACK TO SAVEPOINT unit', []).catch(() => Promise.reject(error));
          }
          await queryRows(manager, 'RELEASE SAVEPOINT unit', []);
        }
      });
      // a "commit" that left a transaction open made nothing durable
      if (this.connection().inTransaction) throw new Error('SQLite transaction still open after COMMIT');
      return outcomes;
    } catch (error) {
      // should reopening fail too, the next failed group tries again; this one is answered either way
      await this.recover().catch(() => undefined);
      // the commit (or the only unit) failed: nothing of the group was written
      return group.map((_, i) => (outcomes[i] && !outcomes[i].ok ? outcomes[i] : { ok: false, error }));
    }
  }

  private connection(): SqliteConnection {
    return sqliteConnection(this.dataSource);
  }

  /**
   * After a failed group the connection must be outside any transaction, or every later group
   * would run inside the failed one and "commit" nothing. When COMMIT fails with SQLITE_FULL or
   * SQLITE_IOERR, SQLite may or may not have rolled back already; TypeORM's ROLLBACK then fails
   * and it keeps counting the transaction as open, so its next one would be a SAVEPOINT, which
   * outside a transaction opens one that its RELEASE may never end. Should ROLLBACK not get the
   * connection out, it is replaced: closing a connection rolls back what it had open.
   */
  private async recover(): Promise<void> {
    const db = this.connection();
    if (db.inTransaction) {
      try {
        db.exec('ROLLBACK');
      } catch {
        // replaced below
      }
    }
    const runner = this.dataSource.createQueryRunner() as unknown as TypeormTransactionState;
    runner.isTransactionActive = false;
    runner.transactionDepth = 0;
    if (!db.inTransaction && db.open) return;
    const driver = this.dataSource.driver as unknown as SqliteDriver;
    if (db.open) db.close();
    driver.databaseConnection = await driver.createDatabaseConnection();
    runner.stmtCache?.clear();
  }
}
