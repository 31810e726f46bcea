import { mkdirSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import type { DataSourceOptions } from 'typeorm';
import { MIGRATIONS } from '../../database/migrations';
import { ENTITIES } from './entities';

export interface DatabaseSettings {
  DATABASE_URL: string;
  DATABASE_SCHEMA?: string;
  DATABASE_POOL_SIZE: number;
}

export function isPostgresUrl(url: string): boolean {
  return /^postgres(ql)?:\/\//.test(url);
}

export function sqlitePath(url: string): string {
  return url.replace(/^(sqlite|file):(\/\/)?/, '');
}

/** One definition for the app, the tests and the migration CLI (ormconfig.ts). */
export function dataSourceOptions(settings: DatabaseSettings): DataSourceOptions {
  const common = {
    entities: ENTITIES,
    migrations: MIGRATIONS,
    migrationsRun: false,
    synchronize: false,
    logging: false,
  } as const;
  if (isPostgresUrl(settings.DATABASE_URL)) {
    const schema = settings.DATABASE_SCHEMA;
    return {
      ...common,
      type: 'postgres',
      url: settings.DATABASE_URL,
      schema,
      poolSize: settings.DATABASE_POOL_SIZE,
      // pipeline mode: a connection sends a statement without waiting for the answers to the ones
      // before it (TransactionRunner sends BEGIN with the first statement; Promise.all shares a
      // round trip); each statement keeps its own answer and its own error
      extra: { pipeline: true, ...(schema ? { options: `-c search_path=${schema}` } : {}) },
    };
  }
  const file = sqlitePath(settings.DATABASE_URL);
  if (file !== ':memory:') mkdirSync(dirname(resolve(file)), { recursive: true });
  return {
    ...common,
    type: 'better-sqlite3',
    database: file,
    prepareDatabase: (db: { pragma(sql: string): unknown }) => {
      db.pragma('journal_mode = WAL');
      db.pragma('busy_timeout = 5000');
      db.pragma('synchronous = NORMAL');
      db.pragma('foreign_keys = ON');
      // statement journals (UPDATE … RETURNING opens one) in memory, not in a temporary file
      // created and deleted per statement: that file cost ~150 µs of every such statement
      db.pragma('temp_store = MEMORY');
    },
  };
}
