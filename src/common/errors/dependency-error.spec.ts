import { ReplyError } from 'ioredis';
import { DatabaseError } from 'pg';
import { QueryFailedError } from 'typeorm';
import { AppLogger } from '../logging/app-logger';
import { databaseFault, DependencyError, redisFault, statementErrorClass } from './dependency-error';
import { DependencyOutages } from './dependency-outages';
import { Errors } from './errors';
import { normalizeError } from './normalize-error';

const pgError = (code: string, message = 'server says no') => {
  const error = new DatabaseError(message, 0, 'error');
  error.code = code;
  return error;
};
/** better-sqlite3's own error class (the project has no @types/better-sqlite3). */
const { SqliteError } = jest.requireActual<{ SqliteError: new (message: string, code: string) => Error }>(
  'better-sqlite3',
);
const viaTypeorm = (driverError: Error) => new QueryFailedError('SELECT 1', [], driverError);
const socketError = (code: string) => Object.assign(new Error(`connect ${code} 127.0.0.1:5432`), { code });

describe(databaseFault.name, () => {
  it.each([
    ['a refused connection', socketError('ECONNREFUSED')],
    ['a reset connection, through TypeORM', viaTypeorm(socketError('ECONNRESET'))],
    ['an administrator shutdown (57P01)', viaTypeorm(pgError('57P01'))],
    ['a server still starting (57P03)', pgError('57P03')],
    ['a connection exception (class 08)', pgError('08006')],
    ['too many connections (class 53)', pgError('53300')],
    ['the statement timeout (57014)', viaTypeorm(pgError('57014'))],
    ['the lock timeout (55P03)', viaTypeorm(pgError('55P03'))],
    ['a cut connection (node-postgres)', viaTypeorm(new Error('Connection terminated unexpectedly'))],
    ['no pooled connection in time (pg-pool)', new Error('timeout exceeded when trying to connect')],
    [
      'a connection timeout with its cause (pg-pool)',
      new Error('Connection terminated due to connection timeout', { cause: new Error('timeout expired') }),
    ],
    ['a busy SQLite database', viaTypeorm(new SqliteError('database is locked', 'SQLITE_BUSY'))],
    ['a full disk', viaTypeorm(new SqliteError('database or disk is full', 'SQLITE_FULL'))],
    ['a failed write', new SqliteError('disk I/O error', 'SQLITE_IOERR_WRITE')],
  ])('is a database fault: %s', (_, error) => {
    const fault = databaseFault(error);
    expect(fault).toBeInstanceOf(DependencyError);
    expect(fault?.dependency).toBe('database');
  });

  it.each([
    ['a unique violation', viaTypeorm(pgError('23505'))],
    ['a missing table (a bug)', viaTypeorm(pgError('42P01'))],
    ['a SQLite constraint', new SqliteError('UNIQUE constraint failed', 'SQLITE_CONSTRAINT_UNIQUE')],
    ['a programming error', new TypeError("Cannot read properties of undefined (reading 'id')")],
    ['a message that merely looks like one', new Error('connect ECONNREFUSED 127.0.0.1:5432')],
    ['an application error', Errors.userNotFound()],
    ['not an error at all', 'ECONNREFUSED'],
  ])('is not a database fault: %s', (_, error) => {
    expect(databaseFault(error)).toBeUndefined();
  });
});

describe(redisFault.name, () => {
  it.each([
    ['a closed connection', new Error('Connection is closed.')],
    ['a command timeout', new Error('Command timed out')],
    ['a server loading its data', new ReplyError('LOADING Redis is loading the dataset in memory')],
    ['a server out of memory', new ReplyError("OOM command not allowed when used memory > 'maxmemory'.")],
    ['a primary without a replica in sync', new ReplyError('NOREPLICAS Not enough good replicas to write.')],
  ])('is a Redis fault: %s', (_, error) => {
    expect(redisFault(error)).toMatchObject({ name: 'DependencyError', dependency: 'redis' });
  });

  it('leaves an error reply to a wrong command a bug', () => {
    const error = new ReplyError('ERR Error compiling script');
    expect(redisFault(error)).toBe(error);
  });
});

describe('a dependency fault answered', () => {
  const lines: Array<{ level: string; obj: object; msg: string }> = [];
  const logger = {
    setContext: () => undefined,
    error: (obj: object, msg: string) => lines.push({ level: 'error', obj, msg }),
    info: (obj: object, msg: string) => lines.push({ level: 'info', obj, msg }),
  } as unknown as AppLogger;
  beforeEach(() => lines.splice(0));

  it('is UNAVAILABLE with Retry-After, logged once per outage and once when it ends', () => {
    const outages = new DependencyOutages(logger);
    const unexpected = { error: jest.fn() };
    for (let i = 0; i < 3; i++) {
      const answer = normalizeError(viaTypeorm(pgError('57P01', 'terminating connection')), unexpected, outages);
      expect([answer.code, answer.id, answer.extras.retryAfterMs]).toEqual([14, 'API-unavail', 1000]);
    }
    expect(unexpected.error).not.toHaveBeenCalled();
    expect(lines).toEqual([
      {
        level: 'error',
        obj: { dependency: 'database', cause: '57P01: terminating connection' },
        msg: 'database unavailable: answering 503 until it recovers',
      },
    ]);
    outages.succeeded('redis'); // another dependency: changes nothing
    outages.succeeded('database');
    outages.succeeded('database');
    expect(lines.slice(1)).toEqual([
      {
        level: 'info',
        obj: expect.objectContaining({ dependency: 'database', failures: 3 }),
        msg: 'database recovered',
      },
    ]);
  });

  it('leaves a programming error INTERNAL, with its stack logged', () => {
    const unexpected = { error: jest.fn() };
    const answer = normalizeError(new TypeError('boom'), unexpected, new DependencyOutages(logger));
    expect(answer.code).toBe(13);
    expect(unexpected.error).toHaveBeenCalledTimes(1);
    expect(lines).toEqual([]);
  });

  it('databaseFailed counts a database fault towards its outage, and leaves anything else to its caller', () => {
    const outages = new DependencyOutages(logger);
    expect(outages.databaseFailed(new TypeError('boom'))).toBe(false);
    expect(outages.isDown('database')).toBe(false);
    expect(outages.databaseFailed(viaTypeorm(pgError('57P01')))).toBe(true);
    expect(outages.databaseFailed(viaTypeorm(pgError('57P01')))).toBe(true);
    expect(outages.isDown('database')).toBe(true);
    expect(lines.map((l) => l.msg)).toEqual(['database unavailable: answering 503 until it recovers']);
  });
});

describe(statementErrorClass.name, () => {
  it.each([
    ['a unique violation, through TypeORM', viaTypeorm(pgError('23505')), '23'],
    ['the statement timeout', pgError('57014'), '57'],
    ['a missing table', pgError('42P01'), '42'],
    ['a refused connection', socketError('ECONNREFUSED'), 'connection'],
    ['a cut connection (node-postgres)', new Error('Connection terminated unexpectedly'), 'connection'],
    [
      'an SQLite constraint, extended code',
      viaTypeorm(new SqliteError('UNIQUE constraint failed', 'SQLITE_CONSTRAINT_UNIQUE')),
      'SQLITE_CONSTRAINT',
    ],
    ['a busy SQLite database', new SqliteError('database is locked', 'SQLITE_BUSY'), 'SQLITE_BUSY'],
    ['anything else', new Error('no such thing'), 'other'],
    ['not even an error', 'a string', 'other'],
  ])('classes %s as %s', (_what, error, expected) => {
    expect(statementErrorClass(error)).toBe(expected);
  });
});
