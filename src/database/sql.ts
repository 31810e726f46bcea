import { Inject, Injectable, Optional } from '@nestjs/common';
import type { Logger } from 'pino';
import { DataSource } from 'typeorm';
import type { ColumnMetadata } from 'typeorm/metadata/ColumnMetadata';
import type { EntityMetadata } from 'typeorm/metadata/EntityMetadata';
import { AppConfig } from '../common/config/app-config.module';
import { DependencyOutages } from '../common/errors/dependency-outages';
import { ROOT_LOGGER } from '../common/logging/app-logger';
import { statementSpan } from '../common/tracing/statement-spans';
import { tracingActive } from '../common/tracing/tracing';
import { PostgresAdapter } from './postgres.adapter';
import { SqliteAdapter } from './sqlite.adapter';

declare const TX: unique symbol;

/**
 * One open transaction. Opaque outside src/database: services receive it from
 * `Database.transaction` and pass it on to repositories, which hand it to the seam's statements.
 */
export interface Tx {
  readonly [TX]: true;
}

export type Dialect = 'postgres' | 'sqlite';

/**
 * The last writes of a unit of work, issued but not awaited, with the unit's result: returned by
 * the work (`return closing(Promise.all([…]).then(…))`), they travel to PostgreSQL together with
 * COMMIT, one round trip for both. Should one of them fail, PostgreSQL has aborted the
 * transaction and the COMMIT rolls it back: the transaction rejects with that statement's error.
 * So only writes whose refusal is the statement's own failure belong here, never a write whose
 * result is then judged in code (an UPDATE that "changed no row" commits like any other).
 */
export class Closing<T> {
  constructor(readonly writes: Promise<T>) {}
}

/** See Closing. */
export function closing<T>(writes: Promise<T>): Closing<T> {
  return new Closing(writes);
}

/**
 * Writes issued now and awaited later, with the unit's closing writes: one promise for all of
 * them, whose failure never goes unobserved into the process meanwhile (the caller still gets it).
 */
export function inFlight(...writes: Promise<unknown>[]): Promise<void> {
  const all = Promise.all(writes).then(() => undefined);
  all.catch(() => undefined);
  return all;
}

/**
 * Whether a statement failed because a guard in it found nothing to change: PostgreSQL
 * statements that may travel with COMMIT (Closing) end in `SELECT 1 / (SELECT count(*) FROM
 * changed)`, whose division by zero (SQLSTATE 22012) aborts the transaction.
 */
export function changedNothing(error: unknown): boolean {
  const driverError = (error as { driverError?: { code?: unknown } } | undefined)?.driverError;
  return driverError?.code === '22012';
}

/** A unit of work: its result, or its result with its closing writes. */
export type Work<T> = (tx: Tx) => Promise<T | Closing<T>>;

/** An entity class (its TypeORM metadata maps its properties to columns). */
export type EntityClass<T extends object> = new () => T;

/**
 * What an adapter does for the seam: statements and transactions on its database's driver. All
 * code that relies on a driver's or TypeORM's internals lives in the two adapters.
 */
export interface SqlAdapter {
  readonly dialect: Dialect;
  /** Runs the unit; a Closing result is awaited before COMMIT or (PostgreSQL) sent with it. */
  transaction<T>(work: Work<T>): Promise<T>;
  /** The rows of a SELECT or of `… RETURNING` (none for other statements). */
  rows<T>(tx: Tx | undefined, sql: string, params: unknown[]): Promise<T[]>;
  /** The number of rows a statement changed (or returned). */
  execute(tx: Tx | undefined, sql: string, params: unknown[]): Promise<number>;
  /** `listener` runs whenever a new connection to the server is made (PostgreSQL's pool). */
  onConnection(listener: () => void): void;
  /** Called with the driver's error of every statement that failed (for the metrics). */
  statementFailed?: (error: unknown) => void;
  /** PostgreSQL: the pool's connections now; SQLite has one connection and no pool. */
  poolStats(): PoolStats | undefined;
}

/** A connection pool's connections: lent out, idle, and callers waiting for one. */
export interface PoolStats {
  inUse: number;
  idle: number;
  waiting: number;
}

/**
 * The database, as repositories see it: every statement at run time goes through here.
 *
 * Statements are written with PostgreSQL's $1, $2… (in order; SQLite gets `?`). `tx` is the
 * transaction to run in; `undefined` runs outside one (any pooled connection on PostgreSQL, the
 * one connection on SQLite), which is for reads only: writes belong in a transaction. On
 * PostgreSQL every statement is a named prepared statement; on SQLite it runs straight on
 * better-sqlite3, prepared once per connection and kept (see the adapters).
 */
@Injectable()
export class Database {
  readonly dialect: Dialect;
  private readonly adapter: SqlAdapter;

  constructor(
    private readonly dataSource: DataSource,
    @Optional() private readonly outages?: DependencyOutages,
    @Optional() config?: AppConfig,
    @Optional() @Inject(ROOT_LOGGER) logger?: Logger,
  ) {
    this.adapter =
      dataSource.options.type === 'postgres'
        ? new PostgresAdapter(dataSource, config?.DATABASE_PREPARED_STATEMENTS, (message) => logger?.warn(message))
        : new SqliteAdapter(dataSource);
    this.dialect = this.adapter.dialect;
  }

  /**
   * Runs `work` in one transaction: the only way to open one. It commits when `work` resolves
   * and rolls back when it rejects; the result is handed out only once it is committed.
   *
   * PostgreSQL runs transactions in parallel, each on a pooled connection (the repositories' row
   * locks and conditional updates order them). SQLite has one connection and one writer:
   * transactions are queued and those queued in one turn of the event loop share a commit.
   * `work` may end with its last writes in flight (Closing): on PostgreSQL they share COMMIT's
   * round trip.
   */
  transaction<T>(work: Work<T>): Promise<T> {
    const done = this.adapter.transaction(work);
    // a committed transaction ends a database outage, if there was one (a failed one is counted where it is answered)
    return this.outages ? done.then((value) => (this.outages?.succeeded('database'), value)) : done;
  }

  /** The rows of a SELECT or of `… RETURNING`. */
  rows<T>(tx: Tx | undefined, sql: string, params: unknown[] = []): Promise<T[]> {
    if (!tracingActive()) return this.adapter.rows<T>(tx, sql, params);
    return statementSpan(this.dialect === 'postgres', sql, () => this.adapter.rows<T>(tx, sql, params));
  }

  /** Runs a statement; returns the number of rows it changed. */
  execute(tx: Tx | undefined, sql: string, params: unknown[] = []): Promise<number> {
    if (!tracingActive()) return this.adapter.execute(tx, sql, params);
    return statementSpan(this.dialect === 'postgres', sql, () => this.adapter.execute(tx, sql, params));
  }

  /** Whether the database is open (it closes with the app). */
  get isOpen(): boolean {
    return this.dataSource.isInitialized;
  }

  /** `listener` runs whenever a new connection to the server is made (PostgreSQL; never on SQLite). */
  onConnection(listener: () => void): void {
    this.adapter.onConnection(listener);
  }

  /** `listener` gets the driver's error of every statement that fails from now on. */
  onStatementError(listener: (error: unknown) => void): void {
    this.adapter.statementFailed = listener;
  }

  /** PostgreSQL: the pool's connections now; undefined on SQLite (one connection, no pool). */
  poolStats(): PoolStats | undefined {
    return this.adapter.poolStats();
  }

  /** The table of an entity. */
  table(target: EntityClass<object>): string {
    return this.dataSource.getMetadata(target).tableName;
  }

  /**
   * Entities of `target` WHERE `where` (with $n parameters), read in one SELECT and hydrated
   * through TypeORM's own column conversions (booleans, BIGINT times). `suffix` may add e.g.
   * " FOR UPDATE".
   */
  async select<T extends object>(
    tx: Tx | undefined,
    target: EntityClass<T>,
    where: string,
    params: unknown[],
    suffix = '',
  ): Promise<T[]> {
    const rows = await this.rows<Record<string, unknown>>(
      tx,
      `SELECT ${this.columnList(target)} FROM "${this.table(target)}" WHERE ${where}${suffix}`,
      params,
    );
    return rows.map((row) => this.hydrate(target, row));
  }

  /**
   * `"id", "org_id", …`: every column of `target`, named. A statement never reads `*`, so that a
   * column added under a running instance (the next release's migration) changes nothing it reads.
   */
  columnList(target: EntityClass<object>): string {
    return this.dataSource
      .getMetadata(target)
      .columns.map((column) => `"${column.databaseName}"`)
      .join(', ');
  }

  /** `"alias"."column" AS "alias.column"` for every column of `target`, to read it beside another table's. */
  columns(target: EntityClass<object>, alias: string): string {
    return this.dataSource
      .getMetadata(target)
      .columns.map((column) => `"${alias}"."${column.databaseName}" AS "${alias}.${column.databaseName}"`)
      .join(', ');
  }

  /**
   * An entity of `target` from a raw row, through TypeORM's own column conversions (booleans,
   * BIGINT times); with `alias`, from the columns `columns` named.
   */
  hydrate<T extends object>(target: EntityClass<T>, row: Record<string, unknown>, alias?: string): T {
    const metadata = this.dataSource.getMetadata(target);
    const driver = this.dataSource.driver;
    const entity = metadata.create() as Record<string, unknown>;
    for (const { key, column } of rowKeys(metadata, alias ?? '')) {
      entity[column.propertyName] = driver.prepareHydratedValue(row[key], column);
    }
    return entity as T;
  }

  /**
   * INSERT one entity, with TypeORM's own value conversions; columns whose property is undefined
   * are left out (their database default applies). `suffix` may add e.g. " ON CONFLICT DO NOTHING".
   * Returns the number of rows inserted.
   */
  insert<T extends object>(tx: Tx | undefined, target: EntityClass<T>, entity: T, suffix = ''): Promise<number> {
    const metadata = this.dataSource.getMetadata(target);
    const driver = this.dataSource.driver;
    const names: string[] = [];
    const params: unknown[] = [];
    for (const column of metadata.columns) {
      const value = (entity as Record<string, unknown>)[column.propertyName];
      if (value === undefined) continue;
      names.push(`"${column.databaseName}"`);
      params.push(driver.preparePersistentValue(value, column));
    }
    const placeholders = params.map((_, i) => `$${i + 1}`).join(', ');
    return this.execute(
      tx,
      `INSERT INTO "${metadata.tableName}" (${names.join(', ')}) VALUES (${placeholders})${suffix}`,
      params,
    );
  }

  /**
   * UPDATE one row by id with TypeORM's own value conversions (transformers, booleans);
   * `extraWhere` adds a condition. Returns whether a row changed.
   */
  async updateById<T extends object>(
    tx: Tx | undefined,
    target: EntityClass<T>,
    id: string,
    fields: Partial<T>,
    extraWhere = '',
  ): Promise<boolean> {
    const { sets, params } = this.assignments(target, fields);
    params.push(id);
    const where = `id = $${params.length}${extraWhere ? ` AND ${extraWhere}` : ''}`;
    const changed = await this.rows(
      tx,
      `UPDATE "${this.table(target)}" SET ${sets.join(', ')} WHERE ${where} RETURNING id`,
      params,
    );
    return changed.length > 0;
  }

  /**
   * `"column" = $n` for each field, with the values converted as TypeORM does, numbered from
   * $1; more parameters (of a WHERE) follow them.
   */
  assignments<T extends object>(target: EntityClass<T>, fields: Partial<T>): { sets: string[]; params: unknown[] } {
    const metadata = this.dataSource.getMetadata(target);
    const driver = this.dataSource.driver;
    const sets: string[] = [];
    const params: unknown[] = [];
    for (const [property, value] of Object.entries(fields)) {
      const column = metadata.findColumnWithPropertyName(property);
      if (!column) throw new Error(`${metadata.name} has no column ${property}`);
      params.push(driver.preparePersistentValue(value, column));
      sets.push(`"${column.databaseName}" = $${params.length}`);
    }
    return { sets, params };
  }
}

/** Each column of an entity with the key its value has in a row (`alias.column` or `column`), worked out once. */
const keysByEntity = new WeakMap<EntityMetadata, Map<string, { key: string; column: ColumnMetadata }[]>>();

function rowKeys(metadata: EntityMetadata, alias: string) {
  let byAlias = keysByEntity.get(metadata);
  if (!byAlias) keysByEntity.set(metadata, (byAlias = new Map()));
  let keys = byAlias.get(alias);
  if (!keys) {
    keys = metadata.columns.map((column) => ({
      key: alias ? `${alias}.${column.databaseName}` : column.databaseName,
      column,
    }));
    byAlias.set(alias, keys);
  }
  return keys;
}

/**
 * What every repository extends: it owns the access to the database (`this.db`), and each of
 * its methods that runs in a transaction takes the caller's `Tx`. Repositories never open a
 * transaction of their own; services do, with `Database.transaction`.
 */
@Injectable()
export abstract class SqlRepository {
  constructor(protected readonly db: Database) {}
}
