import { chmodSync, closeSync, existsSync, mkdirSync, openSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import type { DataSourceOptions } from 'typeorm';
import { MIGRATIONS } from './migrations';
import { ENTITIES } from './entities';
import { HoldingClient } from './pg-client';

import type { DatabaseSettings } from './database.settings';

/** What a data source is built from: the database group, or the part of it a test sets. */
export type DataSourceSettings = Pick<DatabaseSettings, 'url' | 'poolSize'> &
  Partial<Pick<DatabaseSettings, 'schema' | 'connectTimeoutMs' | 'statementTimeoutMs'>>;

const DEFAULT_TIMEOUT_MS = 1_000;
/** The client's own deadline comes after the server's, so that the server's (which keeps the connection) fires first. */
const CLIENT_DEADLINE_MARGIN_MS = 1_000;

export function isPostgresUrl(url: string): boolean {
  return /^postgres(ql)?:\/\//.test(url);
}

export function sqlitePath(url: string): string {
  return url.replace(/^(sqlite|file):(\/\/)?/, '');
}

/** One definition for the app, the tests and the migration CLI (ormconfig.ts). */
export function dataSourceOptions(settings: DataSourceSettings): DataSourceOptions {
  const common = {
    entities: ENTITIES,
    migrations: MIGRATIONS,
    migrationsRun: false,
    synchronize: false,
    logging: false,
  } as const;
  const statementTimeout = settings.statementTimeoutMs ?? DEFAULT_TIMEOUT_MS;
  if (isPostgresUrl(settings.url)) {
    const schema = settings.schema;
    return {
      ...common,
      type: 'postgres',
      url: settings.url,
      schema,
      poolSize: settings.poolSize,
      // a pooled connection, or a new one, within this or the caller gets 503 (pg-pool's connectionTimeoutMillis)
      connectTimeoutMS: settings.connectTimeoutMs ?? DEFAULT_TIMEOUT_MS,
      // statements issued together share a round trip, each with its own answer and error (ADR 0009)
      // Deadlines of every statement: the server cancels it (57014) after statement_timeout, lock
      // waits included; should the server not answer at all, the client gives up a little later.
      extra: {
        pipeline: true,
        Client: HoldingClient,
        statement_timeout: statementTimeout,
        query_timeout: statementTimeout + CLIENT_DEADLINE_MARGIN_MS,
        ...(schema ? { options: `-c search_path=${schema}` } : {}),
      },
    };
  }
  const file = sqlitePath(settings.url);
  if (file !== ':memory:') keepPrivate(file);
  return {
    ...common,
    type: 'better-sqlite3',
    database: file,
    prepareDatabase: (db: { pragma(sql: string): unknown }) => {
      db.pragma('journal_mode = WAL');
      // the wait for another connection's lock (the checkpointer's); it blocks the event loop, so short
      db.pragma(`busy_timeout = ${statementTimeout}`);
      db.pragma('synchronous = NORMAL');
      db.pragma('foreign_keys = ON');
      // statement journals in memory, not a temporary file per UPDATE … RETURNING (ADR 0013)
      db.pragma('temp_store = MEMORY');
    },
  };
}

/**
 * The SQLite file holds every user, token hash and code MAC: a directory it creates is 0700, and
 * the file is 0600 (created so before SQLite opens it, tightened when it exists); SQLite gives
 * its -wal and -shm files the mode of the database file. An existing directory is left as it is.
 */
export function keepPrivate(file: string): void {
  try {
    mkdirSync(dirname(resolve(file)), { recursive: true, mode: 0o700 });
    closeSync(openSync(file, 'a', 0o600));
    for (const path of [file, `${file}-wal`, `${file}-shm`]) if (existsSync(path)) chmodSync(path, 0o600);
  } catch {
    // opening the file fails then, and the start-up says why (database-startup.ts)
  }
}

/** The same database without the statement deadlines: migrations may take as long as they need. */
export function withoutStatementDeadlines(options: DataSourceOptions): DataSourceOptions {
  if (options.type !== 'postgres') return options;
  const { statement_timeout: _s, query_timeout: _q, ...extra } = (options.extra ?? {}) as Record<string, unknown>;
  return { ...options, poolSize: 2, extra };
}
