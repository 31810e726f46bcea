import { createHash } from 'node:crypto';
import { statementSpan } from '../common/tracing/statement-spans';
import { QueryFailedError, type DataSource } from 'typeorm';
import { Closing, type PoolStats, type SqlAdapter, type Tx, type Work } from './sql';

/*
 * Every internal of TypeORM and node-postgres the PostgreSQL side relies on is here, each pinned
 * by src/database/adapter-internals.spec.ts:
 * - TypeORM's driver keeps node-postgres's pool as `driver.master` (its connections have the
 *   search_path and the statement deadlines set);
 * - a node-postgres client writes to `client.connection.stream`, a socket that can be corked.
 */

interface PgResult {
  rows: unknown[];
  rowCount: number | null;
  /** the command tag: COMMIT answers ROLLBACK when the transaction had failed */
  command?: string;
}

/** The part of node-postgres's client and pool used here. */
interface PgQueryable {
  query(config: { name: string; text: string; values: unknown[] }): Promise<PgResult>;
  query(text: string): Promise<PgResult>;
}

interface Corkable {
  cork?(): void;
  uncork?(): void;
  write?(...args: unknown[]): boolean;
  prependListener?(event: 'data', listener: () => void): unknown;
}

export interface PgClient extends PgQueryable {
  release(error?: Error): void;
  on(event: 'error', listener: (error: Error) => void): unknown;
  removeListener(event: 'error', listener: (error: Error) => void): unknown;
  connection?: { stream?: Corkable };
}

export interface PgPool extends PgQueryable {
  connect(): Promise<PgClient>;
  on(event: 'connect', listener: () => void): unknown;
  on(event: 'acquire', listener: (client: PgClient) => void): unknown;
  readonly totalCount: number;
  readonly idleCount: number;
  readonly waitingCount: number;
}

/** node-postgres's pool, which TypeORM's driver holds. */
export function pgPool(dataSource: DataSource): PgPool {
  return (dataSource.driver as unknown as { master: PgPool }).master;
}

/** A transaction: the pooled client it runs on, until it ends. */
class PgTx {
  open = true;
  constructor(readonly client: PgClient) {}
}

function clientOf(tx: Tx): PgClient {
  const pgTx = tx as unknown as PgTx;
  if (!pgTx.open) throw new Error('statement on a transaction that has ended');
  return pgTx.client;
}

/** Connections whose writes are held until the current tick ends. */
const held = new WeakSet<object>();

/**
 * Holds a connection's outgoing bytes until the promise reactions running now have all run, so
 * that statements a transaction issues together (BEGIN and its first statement, a `Promise.all`)
 * leave in one write instead of one each: every write to a TCP socket costs a system call and a
 * wake-up of PostgreSQL. node-postgres's pipeline mode has already sent them without waiting.
 */
export function holdWrites(client: PgClient): void {
  const stream = client.connection?.stream;
  if (!stream?.cork || !stream.uncork || held.has(stream)) return;
  held.add(stream);
  stream.cork();
  process.nextTick(() => {
    held.delete(stream);
    stream.uncork!();
  });
}

/** Connections whose round trips are counted. */
const counted = new WeakSet<object>();

/**
 * Counts a connection's round trips: a write that follows an answer (or is the first) starts
 * one; the writes sent before the next answer arrives belong to it, however many statements
 * they carry. That is what a request waits for PostgreSQL, one after the other, and what each
 * costs the service's CPU (a system call and the kernel's loopback or network work per write).
 */
function countRoundTrips(client: PgClient, onRoundTrip: () => void): void {
  const stream = client.connection?.stream;
  if (!stream?.write || !stream.prependListener || counted.has(stream)) return;
  counted.add(stream);
  let answered = true;
  // before node-postgres's own listener: the callbacks it runs on an answer may write at once (the
  // pool hands the connection to a waiting caller within them), and that write is a new round trip
  stream.prependListener('data', () => (answered = true));
  const write = stream.write;
  stream.write = function (this: unknown, ...args: unknown[]) {
    if (answered) {
      answered = false;
      onRoundTrip();
    }
    return write.apply(this, args);
  };
}

/**
 * BEGIN, COMMIT, ROLLBACK: each a statement span of the request's trace like every other (a
 * transaction here belongs to one request), issued at once so that pipelining is kept.
 */
function control(client: PgClient, statement: 'BEGIN' | 'COMMIT' | 'ROLLBACK'): Promise<PgResult> {
  return statementSpan(true, statement, () => client.query(statement));
}

/** Statement names by text: a hash, so every connection gives one text the same name. */
const statementNames = new Map<string, string>();

function statementName(sql: string): string {
  let name = statementNames.get(sql);
  if (!name) statementNames.set(sql, (name = `pv_${createHash('sha256').update(sql).digest('hex').slice(0, 32)}`));
  return name;
}

/**
 * Statements run as named prepared statements, straight on node-postgres: PostgreSQL parses and
 * plans each once per connection instead of on every execution, and TypeORM's per-statement
 * bookkeeping (query runner, logger, subscriber broadcast) is skipped.
 */
export class PostgresAdapter implements SqlAdapter {
  readonly dialect = 'postgres' as const;
  private readonly pool: PgPool;

  /** Round trips made so far, by every connection of the pool (see countRoundTrips). */
  roundTrips = 0;

  constructor(dataSource: DataSource) {
    this.pool = pgPool(dataSource);
    // every checkout, also the pool's own for a statement outside a transaction
    this.pool.on('acquire', (client) => countRoundTrips(client, () => this.roundTrips++));
  }

  async rows<T>(tx: Tx | undefined, sql: string, params: unknown[]): Promise<T[]> {
    return (await this.run(tx, sql, params)).rows as T[];
  }

  async execute(tx: Tx | undefined, sql: string, params: unknown[]): Promise<number> {
    const result = await this.run(tx, sql, params);
    return result.rowCount ?? result.rows.length;
  }

  onConnection(listener: () => void): void {
    this.pool.on('connect', listener);
  }

  statementFailed?: (error: unknown) => void;

  poolStats(): PoolStats {
    const { totalCount, idleCount, waitingCount } = this.pool;
    return { inUse: totalCount - idleCount, idle: idleCount, waiting: waitingCount };
  }

  /**
   * A transaction on one pooled connection. The pool's connections are in node-postgres's
   * pipeline mode (see data-source-options), so BEGIN is sent without waiting for its answer and
   * the unit's first statement follows it on the wire: one round trip for both. Statements a unit
   * issues together (`Promise.all`) share one too. A failed BEGIN fails every statement after it,
   * so no statement can run outside the transaction.
   */
  async transaction<T>(work: Work<T>): Promise<T> {
    const client = await this.pool.connect();
    // a connection that broke (or whose ROLLBACK failed) is closed, not handed to the next transaction
    let broken: Error | undefined;
    const onError = (error: Error) => void (broken ??= error);
    client.on('error', onError);
    const tx = new PgTx(client);
    try {
      holdWrites(client);
      const begun = control(client, 'BEGIN');
      try {
        const outcome = await work(tx as unknown as Tx);
        await begun;
        if (!(outcome instanceof Closing)) {
          await this.commit(client);
          return outcome;
        }
        // still in the promise reactions that issued the closing writes: their bytes are held
        // (holdWrites), and COMMIT joins them in the same write
        holdWrites(client);
        const [writes, committed] = await Promise.allSettled([outcome.writes, this.commit(client)]);
        if (writes.status === 'rejected') throw writes.reason;
        if (committed.status === 'rejected') throw committed.reason;
        return writes.value;
      } catch (error) {
        await begun.catch(() => undefined);
        await control(client, 'ROLLBACK').catch((failure: Error) => void (broken ??= failure));
        throw error;
      }
    } finally {
      tx.open = false;
      client.removeListener('error', onError);
      client.release(broken);
    }
  }

  /**
   * COMMIT, which PostgreSQL answers with ROLLBACK when a statement of the transaction failed
   * (a closing write sent with it): that is a failure too, never a commit.
   */
  private async commit(client: PgClient): Promise<void> {
    const result = await control(client, 'COMMIT').catch((error: unknown) => {
      this.statementFailed?.(error);
      throw error;
    });
    if (result.command !== undefined && result.command !== 'COMMIT') {
      throw new Error(`COMMIT answered ${result.command}: the transaction was rolled back`);
    }
  }

  /** In a transaction: on its connection; else on any connection of the pool. */
  private async run(tx: Tx | undefined, sql: string, params: unknown[]): Promise<PgResult> {
    let target: PgQueryable = this.pool;
    if (tx) {
      const client = clientOf(tx);
      holdWrites(client);
      target = client;
    }
    try {
      return await target.query({ name: statementName(sql), text: sql, values: params });
    } catch (error) {
      this.statementFailed?.(error);
      // as TypeORM reports it: the driver's error (and its code) in `driverError`
      throw new QueryFailedError(sql, params, error as Error);
    }
  }
}
