import { Global, Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { DataSource, DataSourceOptions, MigrationExecutor } from 'typeorm';
import type { Logger } from 'pino';
import { DatabaseSettings } from './database.settings';
import { ROOT_LOGGER } from '../common/logging/app-logger';
import { openAtStartup } from './database-startup';
import { dataSourceOptions, withoutStatementDeadlines } from './data-source-options';
import { SqliteCheckpointer } from './sqlite-checkpointer';
import { DatabaseFileInUse, SqliteFileLock } from './sqlite-file-lock';
import { Database } from './sql';

/** How the module's factory hands the start-up wait (with the app's config and logger) to the data source factory. */
interface AtStartup {
  toRetry: () => boolean;
  atStartup: (open: () => Promise<DataSource>) => Promise<DataSource>;
  /** SQLite: the lock that keeps a second instance off the file, taken before the file is opened */
  lockFile: () => Promise<SqliteFileLock | undefined>;
}

/**
 * Whether this app holds its SQLite file's lock (it does unless a module provides this as false):
 * a short-lived tool that opens the database beside the running service, as the admin CLI does,
 * provides false.
 */
export const SQLITE_INSTANCE_LOCK = Symbol('SQLITE_INSTANCE_LOCK');

/** Key of the PostgreSQL advisory lock that keeps two starting instances from migrating at once. */
const MIGRATION_LOCK = 7_041_977_301;

/** A data source that lets go of its file's lock once closed (TypeOrmModule closes it as the app closes). */
class LockedDataSource extends DataSource {
  constructor(
    options: DataSourceOptions,
    private readonly fileLock: SqliteFileLock,
  ) {
    super(options);
  }

  override async destroy(): Promise<void> {
    try {
      await super.destroy();
    } finally {
      await this.fileLock.release();
    }
  }
}

/**
 * Opens the database and brings its schema up to date (migrations only, never synchronize); a
 * lock given is released when the data source is destroyed.
 */
export async function openDatabase(options: DataSourceOptions, lock?: SqliteFileLock): Promise<DataSource> {
  if (options.type === 'postgres') {
    // migrations run without the statement deadlines, on a connection of their own
    const migrator = new DataSource(withoutStatementDeadlines(options));
    await migrator.initialize();
    try {
      await migratePostgres(migrator, options.schema);
    } finally {
      await migrator.destroy();
    }
  }
  const dataSource = lock ? new LockedDataSource(options, lock) : new DataSource(options);
  await dataSource.initialize();
  try {
    if (dataSource.options.type !== 'postgres') await dataSource.runMigrations({ transaction: 'all' });
  } catch (error) {
    // the start-up may try again: leave no connection behind
    await dataSource.destroy().catch(() => undefined);
    throw error;
  }
  return dataSource;
}

/**
 * Brings the schema up to date under a transaction-scoped advisory lock, in that one transaction:
 * the lock lasts until COMMIT or ROLLBACK on one server connection, also behind a transaction
 * pooler (a session lock and its unlock could land on different server connections there, and the
 * lock would stay held). One connection for all, so that a pool of one server connection does;
 * a second instance waits on the lock with the one it holds.
 */
async function migratePostgres(dataSource: DataSource, schema: string | undefined): Promise<void> {
  const runner = dataSource.createQueryRunner();
  try {
    await runner.startTransaction();
    // no deadline for the wait and the migrations, whatever the role's or the pooler's default is
    await runner.query('SET LOCAL statement_timeout = 0');
    await runner.query('SELECT pg_advisory_xact_lock($1)', [MIGRATION_LOCK]);
    if (schema) await runner.query(`CREATE SCHEMA IF NOT EXISTS "${schema}"`);
    // TypeORM runs them in the transaction that is open on the runner, and leaves its end to us
    const migrations = new MigrationExecutor(dataSource, runner);
    migrations.transaction = 'all';
    await migrations.executePendingMigrations();
    await runner.commitTransaction();
  } catch (error) {
    if (runner.isTransactionActive) await runner.rollbackTransaction().catch(() => undefined);
    throw error;
  } finally {
    await runner.release();
  }
}

/**
 * The SQLite file's lock, or none: a live holder ends the start (openAtStartup names DATABASE_URL);
 * a lock that cannot be made here costs a warning, not the start (the open says what is wrong).
 */
async function lockSqliteFile(options: DataSourceOptions, logger: Logger): Promise<SqliteFileLock | undefined> {
  if (options.type !== 'better-sqlite3') return undefined;
  try {
    return await SqliteFileLock.acquire(options.database);
  } catch (error) {
    if (error instanceof DatabaseFileInUse) throw error;
    const { code, message } = error as NodeJS.ErrnoException;
    logger.warn({ file: options.database, code }, `no lock keeps a second instance off this file: ${message}`);
    return undefined;
  }
}

@Global()
@Module({
  imports: [
    TypeOrmModule.forRootAsync({
      inject: [DatabaseSettings, ROOT_LOGGER, { token: SQLITE_INSTANCE_LOCK, optional: true }],
      useFactory: (
        config: DatabaseSettings,
        rootLogger: Logger,
        instanceLock?: boolean,
      ): DataSourceOptions & AtStartup => {
        const options = dataSourceOptions(config);
        const logger = rootLogger.child({ context: 'Database' });
        return {
          ...options,
          // openAtStartup waits and retries, in the app's log; TypeOrmModule's own retries print plain text
          toRetry: () => false,
          atStartup: (open) => openAtStartup(open, config, logger),
          lockFile: () => (instanceLock === false ? Promise.resolve(undefined) : lockSqliteFile(options, logger)),
        };
      },
      dataSourceFactory: async (options) => {
        if (!options) throw new Error('database options missing');
        const { atStartup, lockFile } = options as DataSourceOptions & AtStartup;
        return atStartup(async () => {
          const lock = await lockFile();
          try {
            return await openDatabase(options, lock);
          } catch (error) {
            // the start may try again, or end: the lock goes either way
            await lock?.release();
            throw error;
          }
        });
      },
    }),
  ],
  providers: [Database, SqliteCheckpointer],
  exports: [Database],
})
export class DatabaseModule {}
