import { Global, Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { DataSource, DataSourceOptions } from 'typeorm';
import type { Logger } from 'pino';
import { AppConfig } from '../common/config/app-config.module';
import { ROOT_LOGGER } from '../common/logging/app-logger';
import { openAtStartup } from './database-startup';
import { dataSourceOptions, withoutStatementDeadlines } from './data-source-options';
import { SqliteCheckpointer } from './sqlite-checkpointer';
import { Database } from './sql';

/** How the module's factory hands the start-up wait (with the app's config and logger) to the data source factory. */
interface AtStartup {
  toRetry: () => boolean;
  atStartup: (open: () => Promise<DataSource>) => Promise<DataSource>;
}

/** Key of the PostgreSQL advisory lock that keeps two starting instances from migrating at once. */
const MIGRATION_LOCK = 7_041_977_301;

/** Opens the database and brings its schema up to date (migrations only, never synchronize). */
export async function openDatabase(options: DataSourceOptions): Promise<DataSource> {
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
  const dataSource = new DataSource(options);
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

async function migratePostgres(dataSource: DataSource, schema: string | undefined): Promise<void> {
  const lock = dataSource.createQueryRunner();
  try {
    await lock.query('SELECT pg_advisory_lock($1)', [MIGRATION_LOCK]);
    if (schema) await lock.query(`CREATE SCHEMA IF NOT EXISTS "${schema}"`);
    await dataSource.runMigrations({ transaction: 'all' });
  } finally {
    await lock.query('SELECT pg_advisory_unlock($1)', [MIGRATION_LOCK]).catch(() => undefined);
    await lock.release();
  }
}

@Global()
@Module({
  imports: [
    TypeOrmModule.forRootAsync({
      inject: [AppConfig, ROOT_LOGGER],
      useFactory: (config: AppConfig, logger: Logger): DataSourceOptions & AtStartup => ({
        ...dataSourceOptions(config),
        // openAtStartup waits and retries, in the app's log; TypeOrmModule's own retries print plain text
        toRetry: () => false,
        atStartup: (open) => openAtStartup(open, config, logger.child({ context: 'Database' })),
      }),
      dataSourceFactory: async (options) => {
        if (!options) throw new Error('database options missing');
        return (options as DataSourceOptions & AtStartup).atStartup(() => openDatabase(options));
      },
    }),
  ],
  providers: [Database, SqliteCheckpointer],
  exports: [Database],
})
export class DatabaseModule {}
