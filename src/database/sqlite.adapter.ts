import { QueryFailedError, type DataSource } from 'typeorm';
import { bound } from '../common/tracing/tracing';
import { rowFactory, type RowFactory } from './row-factory';
import { Closing, type SqlAdapter, type Tx, type Work } from './sql';

// TypeORM driver fields used here, each pinned: ADR 0006, item 3.

/** Most units of work one SQLite commit carries. */
export const MAX_GROUP_COMMIT = 32;

/** The part of better-sqlite3 used here (the project has no @types/better-sqlite3). */
interface Statement {
  readonly reader: boolean;
  all(...params: unknown[]): unknown[];
  run(...params: unknown[]): { changes: number };
  raw(on: boolean): Statement;
  columns(): { name: string }[];
}

export interface SqliteConnection {
  prepare(sql: string): Statement;
  pragma(sql: string, options?: { simple: boolean }): unknown;
  exec(sql: string): unknown;
  close(): unknown;
  /** whether a transaction is open on the connection (SQLite's own view) */
  readonly inTransaction: boolean;
  readonly open: boolean;
}

/** The public fields of TypeORM's better-sqlite3 driver used here. */
interface SqliteDriver {
  databaseConnection: SqliteConnection;
  /** better-sqlite3's Database class */
  sqlite: new (file: string, options: object) => SqliteConnection;
  /** TypeORM's one query runner (the tests' and the migrations' statements), made when first asked for */
  queryRunner?: unknown;
}

function driverOf(dataSource: DataSource): SqliteDriver {
  return dataSource.driver as unknown as SqliteDriver;
}

/** better-sqlite3's one connection, which TypeORM's driver holds. */
export function sqliteConnection(dataSource: DataSource): SqliteConnection {
  return driverOf(dataSource).databaseConnection;
}

/** A prepared statement; a reader returns its rows as arrays, made into objects by `toRow`. */
interface Prepared {
  statement: Statement;
  toRow?: RowFactory;
}

/** Prepared statements per SQLite connection, by their $n text. */
const statements = new WeakMap<SqliteConnection, Map<string, Prepared>>();

function prepare(db: SqliteConnection, sql: string): Prepared {
  const statement = db.prepare(sql.replace(/\$\d+/g, '?'));
  if (!statement.reader) return { statement };
  return { statement: statement.raw(true), toRow: rowFactory(statement.columns().map((c) => c.name)) };
}

/** A unit of work's transaction (the connection is the one of the driver), until the unit ends. */
class SqliteTx {
  open = true;
}

function assertOpen(tx: Tx | undefined): void {
  if (tx && !(tx as unknown as SqliteTx).open) throw new Error('statement on a transaction that has ended');
}

type UnitOfWork = Work<unknown>;
type Outcome = { ok: true; value: unknown } | { ok: false; error: unknown };

interface Queued {
  work: UnitOfWork;
  resolve(value: unknown): void;
  reject(error: unknown): void;
}

/**
 * Statements straight on better-sqlite3, prepared once (ADR 0008); units queued behind one writer
 * and committed in groups, each in its own savepoint, answered only once committed (ADR 0013).
 */
export class SqliteAdapter implements SqlAdapter {
  readonly dialect = 'sqlite' as const;
  private readonly queue: Queued[] = [];
  private draining = false;

  constructor(private readonly dataSource: DataSource) {}

  async rows<T>(tx: Tx | undefined, sql: string, params: unknown[]): Promise<T[]> {
    assertOpen(tx);
    return this.run(sql, params, true) as T[];
  }

  async execute(tx: Tx | undefined, sql: string, params: unknown[]): Promise<number> {
    assertOpen(tx);
    return this.run(sql, params, false) as number;
  }

  onConnection(): void {
    // one connection, opened at start-up (and reopened only by `recover`)
  }

  statementFailed?: (error: unknown) => void;

  /** An embedded database: no round trips. */
  readonly roundTrips = 0;

  poolStats(): undefined {
    return undefined; // one connection, no pool
  }

  transaction<T>(work: Work<T>): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      // the unit's statements belong to its own request's trace, not to the one whose turn runs the group
      this.queue.push({ work: bound(work), resolve: resolve as (value: unknown) => void, reject });
      if (this.draining) return;
      // after the current round: better-sqlite3 is synchronous, so nothing else would queue to share the commit
      this.draining = true;
      setImmediate(() => void this.drain());
    });
  }

  private connection(): SqliteConnection {
    return sqliteConnection(this.dataSource);
  }

  /** Rows (`rows`) or the number of rows changed or returned. */
  private run(sql: string, params: unknown[], rows: boolean): unknown[] | number {
    const db = this.connection();
    let cache = statements.get(db);
    if (!cache) statements.set(db, (cache = new Map()));
    // better-sqlite3 binds neither booleans nor Dates; TypeORM's runner turns booleans into 0/1 too
    const values = params.map((p) => (typeof p === 'boolean' ? (p ? 1 : 0) : p));
    try {
      let prepared = cache.get(sql);
      if (!prepared) cache.set(sql, (prepared = prepare(db, sql)));
      const { statement, toRow } = prepared;
      if (toRow) {
        const found = statement.all(...values) as unknown[][];
        return rows ? found.map(toRow) : found.length;
      }
      const { changes } = statement.run(...values);
      return rows ? [] : changes;
    } catch (error) {
      this.statementFailed?.(error);
      // as TypeORM reports it: the driver's error (and its code) in `driverError`
      throw new QueryFailedError(sql, values, error as Error);
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
        // a turn for this group's answers to go out before the next group runs (ADR 0013)
        if (this.queue.length > 0) await new Promise((resolve) => setImmediate(resolve));
      }
    } finally {
      this.draining = false;
    }
  }

  private async runUnit(queued: Queued): Promise<unknown> {
    const tx = new SqliteTx();
    try {
      // statements run at once on SQLite: the closing writes are done here, inside the unit's savepoint
      const outcome = await queued.work(tx as unknown as Tx);
      return outcome instanceof Closing ? await outcome.writes : outcome;
    } finally {
      tx.open = false;
    }
  }

  private async commitGroup(group: Queued[]): Promise<Outcome[]> {
    const outcomes: Outcome[] = [];
    try {
      this.run('BEGIN', [], false);
      if (group.length === 1) {
        // alone, a unit needs no savepoint: its failure rolls the transaction back (below)
        outcomes.push({ ok: true, value: await this.runUnit(group[0]) });
      } else {
        for (const queued of group) {
          this.run('SAVEPOINT unit', [], false);
          try {
            outcomes.push({ ok: true, value: await this.runUnit(queued) });
          } catch (error) {
            outcomes.push({ ok: false, error });
            // SQLITE_FULL, IOERR, NOMEM may have rolled the whole transaction back: the group is lost
            if (!this.connection().inTransaction) throw error;
            try {
              this.run('ROLLBACK TO SAVEPOINT unit', [], false);
            } catch {
              // the whole group is rolled back (below) rather than committed half undone
              throw error;
            }
          }
          this.run('RELEASE SAVEPOINT unit', [], false);
        }
      }
      this.run('COMMIT', [], false);
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

  /**
   * Gets the connection out of a failed group's transaction, or later groups would "commit"
   * nothing; replaced when ROLLBACK cannot (after SQLITE_FULL or IOERR, ADR 0006).
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
    if ((!db.inTransaction && db.open) || !this.dataSource.isInitialized) return;
    // the checkpointer's setting (off while its worker checkpoints)
    const autocheckpoint = db.open ? Number(db.pragma('wal_autocheckpoint', { simple: true })) : undefined;
    const fresh = await openLikeTypeorm(this.dataSource);
    if (autocheckpoint !== undefined) fresh.pragma(`wal_autocheckpoint = ${autocheckpoint}`);
    // swapped at once: no statement meets a closed connection
    const driver = driverOf(this.dataSource);
    if (db.open) db.close();
    driver.databaseConnection = fresh;
    // its statements were prepared on the closed connection: TypeORM makes a new runner when next asked
    driver.queryRunner = undefined;
  }
}

/**
 * A new connection to the data source's file, opened as TypeORM's driver opens its own: the same
 * options, `prepareDatabase` (the app's pragmas), then foreign keys on and, if asked, WAL.
 */
async function openLikeTypeorm(dataSource: DataSource): Promise<SqliteConnection> {
  const options = dataSource.options;
  if (options.type !== 'better-sqlite3') throw new Error(`not a better-sqlite3 data source: ${options.type}`);
  const { database, readonly = false, fileMustExist = false, timeout = 5_000, verbose = null } = options;
  const db = new (driverOf(dataSource).sqlite)(database, {
    readonly,
    fileMustExist,
    timeout,
    verbose,
    nativeBinding: options.nativeBinding ?? null,
  });
  try {
    if (options.key) db.pragma(`key = ${JSON.stringify(options.key)}`);
    await options.prepareDatabase?.(db);
    db.pragma('foreign_keys = ON');
    if (options.enableWAL) db.pragma('journal_mode = WAL');
    return db;
  } catch (error) {
    db.close();
    throw error;
  }
}
