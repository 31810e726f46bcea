import { createHash } from 'node:crypto';
import { QueryFailedError, type DataSource } from 'typeorm';
import { statementSpan } from '../common/tracing/statement-spans';
import { holdWrites } from './pg-client';
import { rowFactory, type RowFactory } from './row-factory';
import { Closing, type PoolStats, type SqlAdapter, type Tx, type Work } from './sql';

// node-postgres through its documented API only, on the pool TypeORM's driver holds (ADR 0005, 0006).

/** What node-postgres answers a statement with (rowMode 'array'). */
interface PgResult {
  rows: unknown[][];
  rowCount: number | null;
  /** the command tag's first word: COMMIT answers ROLLBACK when the transaction had failed */
  command: string | null;
  fields: PgField[];
}

/** A result column, as node-postgres describes it. */
interface PgField {
  name: string;
}

interface QueryConfig {
  readonly text: string;
  readonly name?: string;
  readonly rowMode: 'array';
}

type Answered = (error: Error | null, result: PgResult) => void;

/** The part of node-postgres's client and pool used here. */
interface PgQueryable {
  query(config: QueryConfig, values: unknown[] | undefined, callback: Answered): void;
}

/** Each statement's query config, by name (or text when unnamed): its fields never change. */
const configs = new Map<string, QueryConfig>();

/**
 * A config with no own properties (its fields inherited from the one kept per statement), as
 * node-postgres copies own properties on every call (ADR 0005; docs/performance.md).
 */
function configOf(sql: string, name: string | undefined): QueryConfig {
  const key = name ?? sql;
  let config = configs.get(key);
  if (!config) configs.set(key, (config = { text: sql, name, rowMode: 'array' }));
  return Object.create(config) as QueryConfig;
}

export interface PgClient extends PgQueryable {
  release(error?: Error): void;
  on(event: 'error', listener: (error: Error) => void): unknown;
  removeListener(event: 'error', listener: (error: Error) => void): unknown;
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

/** How one statement's rows become objects: the columns it was made for, and its row factory. */
interface RowReader {
  names: string[];
  toRow: RowFactory;
}

/** Row readers by statement name or, unnamed, text (one set of columns per key but for schema changes). */
const readers = new Map<string, RowReader>();

function readerFor(key: string, fields: PgField[]): RowReader {
  const known = readers.get(key);
  if (known && sameNames(known.names, fields)) return known;
  const names = fields.map((field) => field.name);
  const reader = { names, toRow: rowFactory(names) };
  readers.set(key, reader);
  return reader;
}

function sameNames(names: string[], fields: PgField[]): boolean {
  if (names.length !== fields.length) return false;
  for (let i = 0; i < names.length; i++) if (names[i] !== fields[i].name) return false;
  return true;
}

function rowsOf(key: string, result: PgResult): Record<string, unknown>[] {
  if (result.rows.length === 0) return [];
  const { toRow } = readerFor(key, result.fields);
  return result.rows.map(toRow);
}

const countOf = (_key: string, result: PgResult) => result.rowCount ?? result.rows.length;

/**
 * Statement names by text: a hash, so that every connection gives one text the same name, and a
 * generation, bumped when PostgreSQL refuses to reuse a statement it prepared (see replanned).
 */
const statementNames = new Map<string, string>();

function statementName(sql: string): string {
  let name = statementNames.get(sql);
  if (!name) statementNames.set(sql, (name = `pv_${createHash('sha256').update(sql).digest('hex').slice(0, 32)}`));
  return name;
}

/**
 * A schema change altered a prepared statement's result (0A000): its text gets a new name, so
 * every connection prepares it afresh (ADR 0005).
 */
function replanned(error: unknown, sql: string, name: string | undefined): boolean {
  if ((error as { code?: unknown }).code !== '0A000') return false;
  if (name !== undefined && statementNames.get(sql) === name) {
    const generation = Number(/_g(\d+)$/.exec(name)?.[1] ?? 0) + 1;
    statementNames.set(sql, `${name.replace(/_g\d+$/, '')}_g${generation}`);
  }
  return true;
}

/** A transaction pooler's sign (26000, 42P05): prepared statements are not kept per client. */
function pooled(error: unknown): boolean {
  const code = (error as { code?: unknown }).code;
  return code === '26000' || code === '42P05';
}

/**
 * DATABASE_PREPARED_STATEMENTS: `on` names every statement (prepared once per connection), `off`
 * names none (parsed on every run: what a transaction pooler without prepared-statement support
 * needs), `auto` names them until the server shows a transaction pooler (see pooled), then none.
 */
export type PreparedStatements = 'auto' | 'on' | 'off';

/** Runs one statement: node-postgres's error, or its result. */
function query(target: PgQueryable, text: string): Promise<PgResult> {
  return new Promise((resolve, reject) =>
    target.query(configOf(text, undefined), undefined, (error, result) => (error ? reject(error) : resolve(result))),
  );
}

/** A transaction: the pooled client it runs on, until it ends. */
class PgTx {
  open = true;
  /** a statement of it met a schema change or a pooler (see replanned, pooled): the whole unit runs again */
  again = false;
  constructor(readonly client: PgClient) {}
}

function txOf(tx: Tx): PgTx {
  const pgTx = tx as unknown as PgTx;
  if (!pgTx.open) throw new Error('statement on a transaction that has ended');
  return pgTx;
}

/**
 * BEGIN, COMMIT, ROLLBACK: each a statement span of the request's trace like every other (a
 * transaction here belongs to one request), issued at once so that pipelining is kept.
 */
function control(client: PgClient, statement: 'BEGIN' | 'COMMIT' | 'ROLLBACK'): Promise<PgResult> {
  return statementSpan(true, statement, () => query(client, statement));
}

/** Named prepared statements on node-postgres's pipelined pool, rows built by the row factory (ADR 0008, 0009). */
export class PostgresAdapter implements SqlAdapter {
  readonly dialect = 'postgres' as const;
  private readonly pool: PgPool;
  /** whether statements are named (prepared once per connection); see PreparedStatements */
  private named: boolean;

  constructor(
    dataSource: DataSource,
    private readonly prepared: PreparedStatements = 'auto',
    private readonly warn: (message: string) => void = () => undefined,
  ) {
    this.pool = pgPool(dataSource);
    this.named = prepared !== 'off';
  }

  rows<T>(tx: Tx | undefined, sql: string, params: unknown[]): Promise<T[]> {
    return this.run(tx, sql, params, rowsOf) as Promise<T[]>;
  }

  execute(tx: Tx | undefined, sql: string, params: unknown[]): Promise<number> {
    return this.run(tx, sql, params, countOf);
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
   * BEGIN goes out with the unit's first statement (ADR 0009). A unit aborted by a schema change
   * or a pooler's answer is rolled back and runs once more from the start (ADR 0005).
   */
  async transaction<T>(work: Work<T>): Promise<T> {
    let again = false;
    try {
      return await this.attempt(work, () => (again = true));
    } catch (error) {
      if (!again) throw error;
    }
    return this.attempt(work, () => undefined);
  }

  private async attempt<T>(work: Work<T>, onReplanned: () => void): Promise<T> {
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
        // still in the promise reactions that issued the closing writes: COMMIT joins them in one write
        holdWrites(client);
        const [writes, committed] = await Promise.allSettled([outcome.writes, this.commit(client)]);
        if (writes.status === 'rejected') throw writes.reason;
        if (committed.status === 'rejected') throw committed.reason;
        return writes.value;
      } catch (error) {
        await begun.catch(() => undefined);
        await control(client, 'ROLLBACK').catch((failure: Error) => void (broken ??= failure));
        if (tx.again) onReplanned();
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
    if (result.command !== null && result.command !== 'COMMIT') {
      throw new Error(`COMMIT answered ${result.command}: the transaction was rolled back`);
    }
  }

  /**
   * In a transaction: on its connection; else on any connection of the pool, where a statement
   * that met a schema change or a pooler runs once more. One promise per statement, settled from
   * node-postgres's callback with what the caller wants of the result.
   */
  private run<R>(
    tx: Tx | undefined,
    sql: string,
    params: unknown[],
    pick: (key: string, result: PgResult) => R,
    retried = false,
  ): Promise<R> {
    return new Promise<R>((resolve, reject) => {
      const pgTx = tx && txOf(tx);
      const name = this.named ? statementName(sql) : undefined;
      if (pgTx) holdWrites(pgTx.client);
      const target: PgQueryable = pgTx ? pgTx.client : this.pool;
      target.query(configOf(sql, name), params, (error, result) => {
        if (!error) return resolve(pick(name ?? sql, result));
        if (replanned(error, sql, name) || (name !== undefined && this.pooledNow(error))) {
          if (pgTx) pgTx.again = true;
          else if (!retried) return resolve(this.run(undefined, sql, params, pick, true));
        }
        this.statementFailed?.(error);
        // as TypeORM reports it: the driver's error (and its code) in `driverError`
        reject(new QueryFailedError(sql, params, error));
      });
    });
  }

  /** In `auto`, a pooler's answer (see pooled) turns naming off for good. */
  private pooledNow(error: unknown): boolean {
    if (this.prepared !== 'auto' || !pooled(error)) return false;
    if (this.named) {
      this.named = false;
      this.warn(
        'PostgreSQL: a transaction pooler hands transactions different server connections; statements run ' +
          'unnamed from now on (set DATABASE_PREPARED_STATEMENTS=off to start so)',
      );
    }
    return true;
  }
}
