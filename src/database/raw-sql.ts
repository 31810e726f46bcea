import { tracingActive } from '../common/tracing/tracing';
import { statementSpan } from '../common/tracing/typeorm-spans';
import { createHash } from 'node:crypto';
import { QueryFailedError, type DataSource, type EntityManager, type EntityTarget } from 'typeorm';
import type { ColumnMetadata } from 'typeorm/metadata/ColumnMetadata';
import type { EntityMetadata } from 'typeorm/metadata/EntityMetadata';

/**
 * One hand-written statement for the hottest paths, where TypeORM's query building costs more
 * than the query. Written with PostgreSQL's $1, $2… (in order); SQLite gets `?`. Returns the rows
 * (also of UPDATE … RETURNING).
 *
 * On SQLite the statement runs straight on better-sqlite3's one connection (the one TypeORM's
 * transactions run on too), prepared once and kept: TypeORM's query runner adds several promise
 * hops, a logger and subscriber broadcast per statement, which cost more than SQLite's own work.
 */
export function queryRows<T>(manager: EntityManager, sql: string, params: unknown[]): Promise<T[]> {
  if (!tracingActive()) return runRows<T>(manager, sql, params);
  const postgres = manager.connection.options.type === 'postgres';
  return statementSpan(postgres, sql, () => runRows<T>(manager, sql, params));
}

async function runRows<T>(manager: EntityManager, sql: string, params: unknown[]): Promise<T[]> {
  if (manager.connection.options.type !== 'postgres') return sqliteRows<T>(manager, sql, params);
  const runner = manager.queryRunner;
  // in a transaction: on its connection; else on any connection of the pool
  if (!runner || runner.isReleased) return postgresRows<T>(pgPool(manager), sql, params);
  const client = (await runner.connect()) as PgQueryable;
  holdWrites(client);
  return postgresRows<T>(client, sql, params);
}

/** Connections whose writes are held until the current tick ends. */
const held = new WeakSet<object>();

/**
 * Holds a connection's outgoing bytes until the promise reactions running now have all run, so
 * that statements a transaction issues together (BEGIN and its first statement, a `Promise.all`)
 * leave in one write instead of one each: every write to a TCP socket costs a system call and a
 * wake-up of PostgreSQL. node-postgres's pipeline mode has already sent them without waiting.
 */
export function holdWrites(client: object): void {
  const stream = (client as { connection?: { stream?: { cork?(): void; uncork?(): void } } }).connection?.stream;
  if (!stream?.cork || !stream.uncork || held.has(stream)) return;
  held.add(stream);
  stream.cork();
  process.nextTick(() => {
    held.delete(stream);
    stream.uncork!();
  });
}

/** The part of node-postgres's client (and pool) used here. */
interface PgQueryable {
  query(config: { name: string; text: string; values: unknown[] }): Promise<{ rows: unknown[] }>;
}

/** node-postgres's pool, which TypeORM's driver holds (its connections have the search_path set). */
function pgPool(manager: EntityManager): PgQueryable {
  return (manager.connection.driver as unknown as { master: PgQueryable }).master;
}

/** Statement names by text: a hash, so every connection gives one text the same name. */
const statementNames = new Map<string, string>();

/**
 * On PostgreSQL a statement runs as a named prepared statement: PostgreSQL parses and plans it
 * once per connection instead of on every execution, and TypeORM's per-statement bookkeeping
 * (query runner, logger, subscriber broadcast) is skipped.
 */
async function postgresRows<T>(target: PgQueryable, sql: string, params: unknown[]): Promise<T[]> {
  let name = statementNames.get(sql);
  if (!name) statementNames.set(sql, (name = `pv_${createHash('sha256').update(sql).digest('hex').slice(0, 32)}`));
  try {
    return (await target.query({ name, text: sql, values: params })).rows as T[];
  } catch (error) {
    throw new QueryFailedError(sql, params, error as Error);
  }
}

/** The part of better-sqlite3 used here (the project has no @types/better-sqlite3). */
interface Statement {
  readonly reader: boolean;
  all(...params: unknown[]): unknown[];
  run(...params: unknown[]): unknown;
  raw(on: boolean): Statement;
  columns(): { name: string }[];
}
export interface SqliteConnection {
  prepare(sql: string): Statement;
  pragma(sql: string): unknown;
  exec(sql: string): unknown;
  close(): unknown;
  /** whether a transaction is open on the connection (SQLite's own view, not TypeORM's) */
  readonly inTransaction: boolean;
  readonly open: boolean;
}

/** better-sqlite3's one connection, which TypeORM's driver holds. */
export function sqliteConnection(dataSource: DataSource): SqliteConnection {
  return (dataSource.driver as unknown as { databaseConnection: SqliteConnection }).databaseConnection;
}

type RowFactory = (values: unknown[]) => Record<string, unknown>;

/** A prepared statement; a reader returns its rows as arrays, made into objects by `toRow`. */
interface Prepared {
  statement: Statement;
  toRow?: RowFactory;
}

/**
 * `(values) => ({ "id": values[0], "org_id": values[1], … })` for a statement's result columns.
 * better-sqlite3 builds each row object property by property in C++, through V8's slow paths
 * (a map transition and a string lookup per column and row): for the 25-column user rows that was
 * most of a read's time. An object literal of fixed keys is built by optimised code in one go.
 */
function rowFactory(columns: string[]): RowFactory {
  // a literal "__proto__": … would set the prototype; a computed key defines the property
  const key = (name: string) => (name === '__proto__' ? `[${JSON.stringify(name)}]` : JSON.stringify(name));
  const fields = columns.map((name, i) => `${key(name)}: values[${i}]`).join(', ');
  return new Function('values', `return { ${fields} };`) as RowFactory;
}

/** Prepared statements per SQLite connection, by their $n text. */
const statements = new WeakMap<SqliteConnection, Map<string, Prepared>>();

function prepare(db: SqliteConnection, sql: string): Prepared {
  const statement = db.prepare(sql.replace(/\$\d+/g, '?'));
  if (!statement.reader) return { statement };
  return { statement: statement.raw(true), toRow: rowFactory(statement.columns().map((c) => c.name)) };
}

function sqliteRows<T>(manager: EntityManager, sql: string, params: unknown[]): T[] {
  const db = sqliteConnection(manager.connection);
  let cache = statements.get(db);
  if (!cache) statements.set(db, (cache = new Map()));
  // better-sqlite3 binds neither booleans nor Dates; TypeORM's runner turns booleans into 0/1 too
  const values = params.map((p) => (typeof p === 'boolean' ? (p ? 1 : 0) : p));
  try {
    let prepared = cache.get(sql);
    if (!prepared) cache.set(sql, (prepared = prepare(db, sql)));
    const { statement, toRow } = prepared;
    if (toRow) return (statement.all(...values) as unknown[][]).map(toRow) as T[];
    statement.run(...values);
    return [];
  } catch (error) {
    throw new QueryFailedError(sql, values, error as Error);
  }
}

/**
 * Entities of `target` WHERE `where` (with $n parameters), read in one hand-written SELECT and
 * hydrated through TypeORM's own column conversions (booleans, BIGINT times), so they equal what
 * `find` would return. `suffix` may add e.g. " FOR UPDATE".
 */
export async function selectEntities<T extends object>(
  manager: EntityManager,
  target: EntityTarget<T>,
  where: string,
  params: unknown[],
  suffix = '',
): Promise<T[]> {
  const metadata = manager.connection.getMetadata(target);
  const rows = await queryRows<Record<string, unknown>>(
    manager,
    `SELECT * FROM "${metadata.tableName}" WHERE ${where}${suffix}`,
    params,
  );
  return rows.map((row) => hydrate(manager, target, row));
}

/** `"alias"."column" AS "alias.column"` for every column of `target`, to read it beside another table's. */
export function aliasedColumns(manager: EntityManager, target: EntityTarget<object>, alias: string): string {
  return manager.connection
    .getMetadata(target)
    .columns.map((column) => `"${alias}"."${column.databaseName}" AS "${alias}.${column.databaseName}"`)
    .join(', ');
}

/**
 * An entity of `target` from a raw row, through TypeORM's own column conversions (booleans,
 * BIGINT times); with `alias`, from the columns `aliasedColumns` named.
 */
export function hydrate<T extends object>(
  manager: EntityManager,
  target: EntityTarget<T>,
  row: Record<string, unknown>,
  alias?: string,
): T {
  const metadata = manager.connection.getMetadata(target);
  const driver = manager.connection.driver;
  const entity = metadata.create() as Record<string, unknown>;
  for (const { key, column } of rowKeys(metadata, alias ?? '')) {
    entity[column.propertyName] = driver.prepareHydratedValue(row[key], column);
  }
  return entity as T;
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
 * UPDATE one row by id with TypeORM's own value conversions (transformers, booleans), in one
 * hand-written statement; `extraWhere` adds a condition. Returns whether a row changed.
 */
export async function updateById<T extends object>(
  manager: EntityManager,
  target: EntityTarget<T>,
  id: string,
  fields: Partial<T>,
  extraWhere = '',
): Promise<boolean> {
  const metadata = manager.connection.getMetadata(target);
  const driver = manager.connection.driver;
  const sets: string[] = [];
  const params: unknown[] = [];
  for (const [property, value] of Object.entries(fields)) {
    const column = metadata.findColumnWithPropertyName(property);
    if (!column) throw new Error(`${metadata.name} has no column ${property}`);
    params.push(driver.preparePersistentValue(value, column));
    sets.push(`"${column.databaseName}" = $${params.length}`);
  }
  params.push(id);
  const where = `id = $${params.length}${extraWhere ? ` AND ${extraWhere}` : ''}`;
  const changed = await queryRows(
    manager,
    `UPDATE "${metadata.tableName}" SET ${sets.join(', ')} WHERE ${where} RETURNING id`,
    params,
  );
  return changed.length > 0;
}

/**
 * INSERT one entity in one hand-written statement, with TypeORM's own value conversions; columns
 * whose property is undefined are left out (their database default applies).
 */
export async function insertEntity<T extends object>(
  manager: EntityManager,
  target: EntityTarget<T>,
  entity: T,
): Promise<void> {
  const metadata = manager.connection.getMetadata(target);
  const driver = manager.connection.driver;
  const names: string[] = [];
  const params: unknown[] = [];
  for (const column of metadata.columns) {
    const value = (entity as Record<string, unknown>)[column.propertyName];
    if (value === undefined) continue;
    names.push(`"${column.databaseName}"`);
    params.push(driver.preparePersistentValue(value, column));
  }
  const placeholders = params.map((_, i) => `$${i + 1}`).join(', ');
  await queryRows(
    manager,
    `INSERT INTO "${metadata.tableName}" (${names.join(', ')}) VALUES (${placeholders})`,
    params,
  );
}
