import { existsSync, statSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Logger } from 'pino';
import type { DataSource } from 'typeorm';
import { StartupError } from '../common/startup/startup-error';
import { isPostgresUrl, sqlitePath } from './data-source-options';
import type { DatabaseSettings } from './database.settings';
import { DatabaseFileInUse } from './sqlite-file-lock';

export type StartupSettings = Pick<DatabaseSettings, 'url' | 'connectRetries' | 'connectRetryDelayMs'>;

/** Why the database could not be opened, and whether waiting can help. */
export interface OpenFailure {
  reason: string;
  code?: string;
  /** what the operator can do about it */
  hint?: string;
  retry: boolean;
  /** more fields for the log line */
  details?: Record<string, unknown>;
}

/** The database DATABASE_URL names, for the log: never the password. */
export function databaseTarget(url: string): Record<string, string> {
  if (!isPostgresUrl(url)) return { file: sqlitePath(url) };
  try {
    const parsed = new URL(url);
    return {
      host: decodeURIComponent(parsed.hostname) || 'localhost',
      port: parsed.port || '5432',
      database: decodeURIComponent(parsed.pathname.slice(1)) || decodeURIComponent(parsed.username) || '(default)',
      user: decodeURIComponent(parsed.username) || '(default)',
    };
  } catch {
    return { url: 'unparsable postgres URL' };
  }
}

function where(target: Record<string, string>): string {
  if (target.file) return `SQLite file ${target.file}`;
  if (target.host) return `database "${target.database}" on ${target.host}:${target.port} as user "${target.user}"`;
  return 'PostgreSQL';
}

/** PostgreSQL SQLSTATEs (Appendix A) and socket codes of a database that is not there yet, or will not be. */
const BY_CODE: Record<string, Omit<OpenFailure, 'code'>> = {
  '28P01': { reason: 'authentication failed', hint: 'check the user and password in DATABASE_URL', retry: false },
  '28000': {
    reason: 'authentication failed (no such role, or pg_hba.conf refuses it)',
    hint: 'check the user in DATABASE_URL',
    retry: false,
  },
  '3D000': {
    reason: 'the database does not exist',
    hint: 'create it (createdb) or fix the name in DATABASE_URL',
    retry: false,
  },
  '57P03': { reason: 'the database server is starting up', retry: true },
  '53300': { reason: 'the database server has too many connections', retry: true },
  ECONNREFUSED: { reason: 'connection refused', hint: 'is PostgreSQL running on that host and port?', retry: true },
  ENOTFOUND: { reason: 'host not found', hint: 'check the host in DATABASE_URL', retry: true },
  EAI_AGAIN: { reason: 'host not found (DNS did not answer)', retry: true },
  ETIMEDOUT: { reason: 'timeout', retry: true },
  EHOSTUNREACH: { reason: 'host unreachable', retry: true },
  ENETUNREACH: { reason: 'network unreachable', retry: true },
  ECONNRESET: { reason: 'connection reset', retry: true },
  // SQLite: the file, its directory, or the file system
  SQLITE_CANTOPEN: { reason: 'cannot open the database file', retry: false },
  SQLITE_READONLY: { reason: 'the database file is read-only', retry: false },
  SQLITE_NOTADB: { reason: 'the file is not an SQLite database', retry: false },
  SQLITE_CORRUPT: { reason: 'the database file is corrupt', retry: false },
  ENOTDIR: { reason: 'directory missing: a part of the path is not a directory', retry: false },
  // TypeORM's mkdir of the file's directory, where a file has that name
  EEXIST: { reason: 'directory missing: a part of the path is a file', retry: false },
  ENOENT: { reason: 'directory missing', retry: false },
  EACCES: { reason: 'permission denied', retry: false },
  EPERM: { reason: 'permission denied', retry: false },
  EROFS: { reason: 'read-only file system', retry: false },
};

/** node-postgres's and pg-pool's code-less errors of a server that does not answer, or hung up. */
const PG_CLIENT_MESSAGES: Record<string, string> = {
  'Connection terminated due to connection timeout': 'timeout (no answer within DATABASE_CONNECT_TIMEOUT)',
  'timeout exceeded when trying to connect': 'timeout (no answer within DATABASE_CONNECT_TIMEOUT)',
  'Connection terminated unexpectedly': 'the server closed the connection',
};

/** Classifies an error of opening the database by its codes; undefined when it is no such error (a bug, a migration). */
export function openFailure(error: unknown): OpenFailure | undefined {
  const seen: unknown[] = [];
  const queue: unknown[] = [error];
  while (queue.length > 0 && seen.length < 10) {
    const e = queue.shift() as { code?: unknown; message?: unknown; driverError?: unknown; cause?: unknown };
    if (typeof e !== 'object' || e === null || seen.includes(e)) continue;
    seen.push(e);
    if (e instanceof DatabaseFileInUse) {
      return {
        reason: `another instance uses that file${e.pid ? ` (pid ${e.pid})` : ''}`,
        hint: 'stop it, or give each instance a file of its own',
        retry: false,
        details: { lock: e.lock, pid: e.pid },
      };
    }
    const code = typeof e.code === 'string' ? e.code : undefined;
    // SQLite's extended codes add a suffix (SQLITE_READONLY_DIRECTORY)
    const known = code && (BY_CODE[code] ?? BY_CODE[code.replace(/^(SQLITE_[A-Z]+?)_.*$/, '$1')]);
    if (known) return { ...known, code };
    if (code?.startsWith('08')) return { reason: 'connection failure', code, retry: true };
    if (!code && typeof e.message === 'string' && PG_CLIENT_MESSAGES[e.message]) {
      return { reason: PG_CLIENT_MESSAGES[e.message], retry: true };
    }
    queue.push(e.driverError, e.cause);
  }
  return undefined;
}

/** SQLite says only "unable to open database file": look at the path for the why. */
function cantOpen(file: string, failure: OpenFailure): OpenFailure {
  const path = resolve(file);
  let dir = dirname(path);
  while (!existsSync(dir)) dir = dirname(dir);
  if (!statSync(dir).isDirectory()) {
    return { ...failure, reason: `directory missing: ${dir} is not a directory` };
  }
  if (existsSync(path) && statSync(path).isDirectory()) return { ...failure, reason: `${path} is a directory` };
  if (dir !== dirname(path)) return { ...failure, reason: `directory missing: ${dirname(path)} cannot be created` };
  return { ...failure, hint: 'is the directory writable?' };
}

/**
 * Opens the database at start-up, saying first which one: a database that refuses, is not found
 * or does not answer is tried again DATABASE_CONNECT_RETRIES times, DATABASE_CONNECT_RETRY_DELAY
 * apart, each failure one warning; one that will not get better (authentication, a missing
 * database, an SQLite file that cannot be opened or that another instance uses) ends the start at
 * once. Throws a StartupError naming DATABASE_URL and the cause.
 */
export async function openAtStartup(
  open: () => Promise<DataSource>,
  settings: StartupSettings,
  logger: Logger,
): Promise<DataSource> {
  const target = databaseTarget(settings.url);
  const attempts = settings.connectRetries + 1;
  logger.info({ database: target }, `opening the ${where(target)}`);
  for (let attempt = 1; ; attempt++) {
    try {
      const dataSource = await open();
      if (attempt > 1) logger.info({ database: target, attempt }, 'database reachable');
      return dataSource;
    } catch (error) {
      const failure = openFailure(error);
      if (!failure) throw error;
      const { reason, code, hint } =
        target.file && failure.code === 'SQLITE_CANTOPEN' ? cantOpen(target.file, failure) : failure;
      if (!failure.retry || attempt >= attempts) {
        const tries = attempt > 1 ? ` (gave up after ${attempt} attempts)` : '';
        throw new StartupError(`DATABASE_URL (${where(target)}): ${reason}${tries}${hint ? `; ${hint}` : ''}`, {
          setting: 'DATABASE_URL',
          reason,
          code,
          database: target,
          attempts: attempt,
          ...failure.details,
        });
      }
      logger.warn(
        { database: target, reason, code, attempt, attempts },
        `database not reachable (${reason}); attempt ${attempt + 1} of ${attempts} in ${settings.connectRetryDelayMs} ms`,
      );
      await sleep(settings.connectRetryDelayMs);
    }
  }
}
