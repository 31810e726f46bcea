import { pino } from 'pino';
import type { DataSource } from 'typeorm';
import { StartupError } from '../common/startup/startup-error';
import { databaseTarget, openAtStartup, openFailure } from './database-startup';
import { DatabaseFileInUse } from './sqlite-file-lock';

const coded = (code: string, message = code) => Object.assign(new Error(message), { code });

describe('openFailure', () => {
  it.each([
    [coded('28P01'), 'authentication failed', false],
    [coded('28000'), 'authentication failed (no such role, or pg_hba.conf refuses it)', false],
    [coded('3D000'), 'the database does not exist', false],
    [coded('ECONNREFUSED'), 'connection refused', true],
    [coded('ENOTFOUND'), 'host not found', true],
    [coded('ETIMEDOUT'), 'timeout', true],
    [coded('57P03'), 'the database server is starting up', true],
    [coded('08006'), 'connection failure', true],
    [new Error('timeout exceeded when trying to connect'), 'timeout (no answer within DATABASE_CONNECT_TIMEOUT)', true],
    [coded('SQLITE_READONLY_DIRECTORY'), 'the database file is read-only', false],
    [coded('SQLITE_CANTOPEN'), 'cannot open the database file', false],
    // TypeORM's wrapper and pg-pool's cause are looked into
    [Object.assign(new Error('query failed'), { driverError: coded('3D000') }), 'the database does not exist', false],
    [Object.assign(new Error('wrapped'), { cause: coded('ECONNREFUSED') }), 'connection refused', true],
  ])('%p: %s (retry %p)', (error, reason, retry) => {
    expect(openFailure(error)).toMatchObject({ reason, retry });
  });

  it.each([coded('42P01'), new Error('a bug'), 'text', undefined])('leaves %p alone', (error) => {
    expect(openFailure(error)).toBeUndefined();
  });
});

describe('databaseTarget', () => {
  it('names host, port, database and user, never the password', () => {
    expect(databaseTarget('postgres://app:s3cret@db.example:6543/phone?sslmode=require')).toEqual({
      host: 'db.example',
      port: '6543',
      database: 'phone',
      user: 'app',
    });
    expect(databaseTarget('sqlite:./data/x.sqlite')).toEqual({ file: './data/x.sqlite' });
  });
});

describe('openAtStartup', () => {
  const settings = { url: 'postgres://u:pw@127.0.0.1:1/db', connectRetryDelayMs: 100 };
  const silent = pino({ level: 'silent' });

  it('tries again as often as DATABASE_CONNECT_RETRIES says, then names DATABASE_URL', async () => {
    let calls = 0;
    const open = () => {
      calls++;
      return Promise.reject(coded('ECONNREFUSED'));
    };
    const failure = await openAtStartup(open, { ...settings, connectRetries: 2 }, silent).catch((e) => e);
    expect(calls).toBe(3);
    expect(failure).toBeInstanceOf(StartupError);
    expect(failure.fields).toMatchObject({ setting: 'DATABASE_URL', reason: 'connection refused', attempts: 3 });
    expect(failure.message).not.toContain('pw');
  });

  it('returns the data source once the database answers', async () => {
    let calls = 0;
    const ds = {} as DataSource;
    const open = () => (++calls < 2 ? Promise.reject(coded('57P03')) : Promise.resolve(ds));
    await expect(openAtStartup(open, { ...settings, connectRetries: 5 }, silent)).resolves.toBe(ds);
    expect(calls).toBe(2);
  });

  it('does not wait for what waiting cannot mend, and passes other errors on', async () => {
    let calls = 0;
    const auth = () => (calls++, Promise.reject(coded('28P01')));
    await expect(openAtStartup(auth, { ...settings, connectRetries: 5 }, silent)).rejects.toThrow(
      'DATABASE_URL (database "db" on 127.0.0.1:1 as user "u"): authentication failed; check the user and password',
    );
    expect(calls).toBe(1);
    const bug = new Error('migration failed');
    await expect(openAtStartup(() => Promise.reject(bug), { ...settings, connectRetries: 5 }, silent)).rejects.toBe(
      bug,
    );
  });

  it('ends at once, naming DATABASE_URL, when another instance holds the SQLite file', async () => {
    let calls = 0;
    const open = () => (calls++, Promise.reject(new DatabaseFileInUse('/data/db.sqlite.lock', 4242)));
    const sqlite = {
      url: 'sqlite:/data/db.sqlite',
      connectRetries: 5,
      connectRetryDelayMs: 100,
    };
    const failure = await openAtStartup(open, sqlite, silent).catch((e) => e);
    expect(calls).toBe(1);
    expect(failure).toBeInstanceOf(StartupError);
    expect(failure.message).toBe(
      'DATABASE_URL (SQLite file /data/db.sqlite): another instance uses that file (pid 4242); ' +
        'stop it, or give each instance a file of its own',
    );
    expect(failure.fields).toMatchObject({ setting: 'DATABASE_URL', lock: '/data/db.sqlite.lock', pid: 4242 });
  });
});
