/** What the service depends on at request time; each has its own outage in the log. */
export type Dependency = 'database' | 'redis' | 'sms' | 'captcha' | 'send_hook';

/** A dependency that did not answer in time: neither the client's mistake nor a bug, so 503 (ADR 0022). */
export class DependencyError extends Error {
  constructor(
    readonly dependency: Dependency,
    override readonly cause: unknown,
  ) {
    const limit = Error.stackTraceLimit;
    Error.stackTraceLimit = 0; // the cause has the stack that matters
    super(`${dependency} unavailable: ${describeCause(cause)}`);
    Error.stackTraceLimit = limit;
    this.name = 'DependencyError';
  }
}

/** "<code>: <message>" of a driver's error, for the one log line of an outage. */
export function describeCause(cause: unknown): string {
  const e = cause as { code?: unknown; message?: unknown } | undefined;
  const message = typeof e?.message === 'string' && e.message ? e.message : String(cause);
  return typeof e?.code === 'string' && !message.includes(e.code) ? `${e.code}: ${message}` : message;
}

/** Socket errors: the server is not there, went away or does not answer. */
const NETWORK_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ECONNABORTED',
  'EPIPE',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENOTFOUND',
  'EAI_AGAIN',
]);

/**
 * PostgreSQL SQLSTATEs of a server that cannot serve now (Appendix A): connection exceptions
 * (class 08) and insufficient resources (class 53) by class; an operator or crash shutdown, a
 * server still starting, and the statement and lock timeouts by code.
 */
const PG_CLASSES = new Set(['08', '53']);
const PG_CODES = new Set(['57P01', '57P02', '57P03', '57014', '55P03', '58030']);

/**
 * node-postgres's and pg-pool's own errors carry no code; these are their fixed messages for a
 * connection that failed, was cut, timed out or could not be had from the pool in time.
 */
const PG_CLIENT_MESSAGES = new Set([
  'Connection terminated unexpectedly',
  'Connection terminated',
  'Connection terminated due to connection timeout',
  'timeout exceeded when trying to connect',
  'timeout expired',
  'Query read timeout',
  'Client has encountered a connection error and is not queryable',
  'Client was closed and is not queryable',
]);

/** SQLite result codes (primary code; extended codes add a suffix) of a database that is busy or whose disk fails. */
const SQLITE_CODES = ['SQLITE_BUSY', 'SQLITE_LOCKED', 'SQLITE_FULL', 'SQLITE_IOERR', 'SQLITE_NOMEM', 'SQLITE_CANTOPEN'];

function isErrorLike(error: unknown): error is Error {
  return typeof error === 'object' && error !== null && typeof (error as { message?: unknown }).message === 'string';
}

function codeOf(error: unknown): unknown {
  return (error as { code?: unknown } | undefined)?.code;
}

/**
 * The one classifier of database errors: a DependencyError when `error` (as TypeORM, node-postgres,
 * pg-pool or better-sqlite3 raise it) means the database could not answer, else undefined.
 * Decided by codes; only node-postgres's own code-less errors are known by their fixed text.
 */
export function databaseFault(error: unknown): DependencyError | undefined {
  // not `instanceof Error`: errors of Node's own modules come from another realm under jest's vm
  if (!isErrorLike(error)) return undefined;
  // TypeORM's QueryFailedError keeps the driver's error; pg-pool's timeout keeps the socket's as cause
  const driver = (error as { driverError?: unknown }).driverError ?? error;
  for (const e of [driver, (driver as { cause?: unknown }).cause]) {
    const code = codeOf(e);
    if (typeof code === 'string') {
      if (NETWORK_CODES.has(code)) return new DependencyError('database', e);
      if (/^[0-9A-Z]{5}$/.test(code) && (PG_CLASSES.has(code.slice(0, 2)) || PG_CODES.has(code))) {
        return new DependencyError('database', e);
      }
      if (SQLITE_CODES.some((c) => code === c || code.startsWith(`${c}_`))) return new DependencyError('database', e);
    }
    if (isErrorLike(e) && !codeOf(e) && PG_CLIENT_MESSAGES.has(e.message)) {
      return new DependencyError('database', e);
    }
  }
  return undefined;
}

/**
 * Redis replies that mean "not now" (the first word of an error reply is its code): still
 * loading the dataset, busy with a script, out of memory, a read-only replica, no master.
 */
const REDIS_UNAVAILABLE_REPLIES = new Set([
  'LOADING',
  'BUSY',
  'OOM',
  'READONLY',
  'MASTERDOWN',
  'TRYAGAIN',
  'CLUSTERDOWN',
  // a primary without a replica in sync refuses writes (min-replicas-to-write): docs/redis.md
  'NOREPLICAS',
]);

/**
 * For the Redis adapters: every error of a command is the dependency's (closed connection, no
 * connection and no offline queue, command timeout, retries used up), except an error reply that
 * Redis gives to a wrong command, which is a bug and stays one.
 */
export function redisFault(error: unknown): Error {
  if (error instanceof DependencyError) return error;
  const reply = (error as { name?: unknown } | undefined)?.name === 'ReplyError';
  const replyCode = reply ? String((error as Error).message).split(' ', 1)[0] : '';
  if (reply && !REDIS_UNAVAILABLE_REPLIES.has(replyCode)) return error as Error;
  return new DependencyError('redis', error);
}

/**
 * A bounded class for a failed statement's error, for the statement-error series: PostgreSQL's
 * SQLSTATE class (`23` integrity, `40` rollback, `57` operator intervention, …), SQLite's primary
 * result code (`SQLITE_CONSTRAINT`, `SQLITE_BUSY`, …), `connection` for a socket's or
 * node-postgres's own connection errors, else `other`.
 */
export function statementErrorClass(error: unknown): string {
  const driver = (error as { driverError?: unknown } | undefined)?.driverError ?? error;
  const code = codeOf(driver);
  if (typeof code === 'string') {
    if (/^[0-9A-Z]{5}$/.test(code)) return code.slice(0, 2);
    const sqlite = /^SQLITE_[A-Z]+/.exec(code);
    if (sqlite) return sqlite[0];
    if (NETWORK_CODES.has(code)) return 'connection';
  }
  if (isErrorLike(driver) && PG_CLIENT_MESSAGES.has(driver.message)) return 'connection';
  return 'other';
}
