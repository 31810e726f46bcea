import { Global, Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { DataSource, DataSourceOptions } from 'typeorm';
import { AppConfig } from '../config/app-config.module';
import { dataSourceOptions, withoutStatementDeadlines } from './data-source-options';
import { SqliteCheckpointer } from './sqlite-checkpointer';
import { TransactionRunner } from './transaction-runner';

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
  if (dataSource.options.type !== 'postgres') await dataSource.runMigrations({ transaction: 'all' });
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
      inject: [AppConfig],
      useFactory: (config: AppConfig) => dataSourceOptions(config),
      dataSourceFactory: async (options) => {
        if (!options) throw new Error('database options missing');
        return openDatabase(options);
      },
    }),
  ],
  providers: [TransactionRunner, SqliteCheckpointer],
  exports: [TransactionRunner],
})
export class DatabaseModule {}
