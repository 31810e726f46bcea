import { createHash } from 'node:crypto';
import { QueryFailedError, type DataSource } from 'typeorm';
import type { PoolStats, SqlAdapter, Tx } from './sql';

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
}

/** The part of node-postgres's client and pool used here. */
interface PgQueryable {
  query(config: { name: string; text: string; values: unknown[] }): Promise<PgResult>;
  query(text: string): Promise<PgResult>;
}

interface Corkable {
  cork?(): void;
  uncork?(): void;
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

  constructor(dataSource: DataSource) {
    this.pool = pgPool(dataSource);
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
  async transaction<T>(work: (tx: Tx) => Promise<T>): Promise<T> {
    const client = await this.pool.connect();
    // a connection that broke (or whose ROLLBACK failed) is closed, not handed to the next transaction
    let broken: Error | undefined;
    const onError = (error: Error) => void (broken ??= error);
    client.on('error', onError);
    const tx = new PgTx(client);
    try {
      holdWrites(client);
      const begun = client.query('BEGIN');
      try {
        const result = await work(tx as unknown as Tx);
        await begun;
        await client.query('COMMIT').catch((error: unknown) => {
          this.statementFailed?.(error);
          throw error;
        });
        return result;
      } catch (error) {
        await begun.catch(() => undefined);
        await client.query('ROLLBACK').catch((failure: Error) => void (broken ??= failure));
        throw error;
      }
    } finally {
      tx.open = false;
      client.removeListener('error', onError);
      client.release(broken);
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
