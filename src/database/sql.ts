import { Inject, Injectable, Optional } from '@nestjs/common';
import type { Logger } from 'pino';
import { DataSource } from 'typeorm';
import type { ColumnMetadata } from 'typeorm/metadata/ColumnMetadata';
import type { EntityMetadata } from 'typeorm/metadata/EntityMetadata';
import { DatabaseSettings } from './database.settings';
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
 * A unit's last writes, issued but not awaited, sent with COMMIT (ADR 0010). Only writes whose
 * refusal fails their own statement belong here: an UPDATE that "changed no row" still commits.
 */
export class Closing<T> {
  constructor(readonly writes: Promise<T>) {}
}

/** See Closing. */
export function closing<T>(writes: Promise<T>): Closing<T> {
  return new Closing(writes);
}

/** Writes issued now and awaited later: one promise whose failure is never left unobserved meanwhile. */
export function inFlight(...writes: Promise<unknown>[]): Promise<void> {
  const all = Promise.all(writes).then(() => undefined);
  all.catch(() => undefined);
  return all;
}

/** Whether a closing write's guard found nothing to change: its division by zero, 22012 (ADR 0011). */
export function changedNothing(error: unknown): boolean {
  const driverError = (error as { driverError?: { code?: unknown } } | undefined)?.driverError;
  return driverError?.code === '22012';
}

/** A unit of work: its result, or its result with its closing writes. */
export type Work<T> = (tx: Tx) => Promise<T | Closing<T>>;

/** An entity class (its TypeORM metadata maps its properties to columns). */
export type EntityClass<T extends object> = new () => T;

/** Statements and transactions on one driver: all driver code lives in the two adapters (ADR 0008). */
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
 * The database as repositories see it (ADR 0008). Statements use $1, $2… in order; `tx`
 * undefined runs outside a transaction, which is for reads only.
 */
@Injectable()
export class Database {
  readonly dialect: Dialect;
  private readonly adapter: SqlAdapter;

  constructor(
    private readonly dataSource: DataSource,
    @Optional() private readonly outages?: DependencyOutages,
    @Optional() config?: DatabaseSettings,
    @Optional() @Inject(ROOT_LOGGER) logger?: Logger,
  ) {
    this.adapter =
      dataSource.options.type === 'postgres'
        ? new PostgresAdapter(dataSource, config?.preparedStatements, (message) => logger?.warn(message))
        : new SqliteAdapter(dataSource);
    this.dialect = this.adapter.dialect;
  }

  /**
   * The only way to open a transaction: commits when `work` resolves, rolls back when it rejects,
   * and hands out the result only once committed (ADR 0009, 0010, 0013).
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

  /** Every column of `target`, named: never `*`, so a column the next release adds changes nothing read (ADR 0005). */
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

/** What every repository extends: methods take the caller's `Tx`; only services open transactions. */
@Injectable()
export abstract class SqlRepository {
  constructor(protected readonly db: Database) {}
}
