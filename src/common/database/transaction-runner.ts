import { Injectable, Optional } from '@nestjs/common';
import { DataSource, EntityManager } from 'typeorm';
import { DependencyOutages } from '../errors/dependency-outages';
import { holdWrites, queryRows } from './raw-sql';

/** Most units of work one SQLite commit carries. */
export const MAX_GROUP_COMMIT = 32;

type Work = (manager: EntityManager) => Promise<unknown>;
type Outcome = { ok: true; value: unknown } | { ok: false; error: unknown };

/** The part of node-postgres's client a transaction's own statements use. */
interface PgClient {
  query(text: string): Promise<unknown>;
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
      this.queue.push({ work, resolve: resolve as (value: unknown) => void, reject });
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
            // should this fail, the whole group is rolled back (below) rather than committed half undone
            await queryRows(manager, 'ROLLBACK TO SAVEPOINT unit', []);
          }
          await queryRows(manager, 'RELEASE SAVEPOINT unit', []);
        }
      });
      return outcomes;
    } catch (error) {
      // the commit (or the only unit) failed: nothing of the group was written
      return group.map((_, i) => (outcomes[i] && !outcomes[i].ok ? outcomes[i] : { ok: false, error }));
    }
  }
}
