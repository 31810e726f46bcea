import { randomBytes } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { freePort, PG_URL } from './support/test-app';
import { buildIfNeeded, removeDir, serverEnv, ServerProcess } from './support/server-process';

/**
 * What an operator reads when the service cannot start: JSON lines from the first one on, the
 * database it waits for (never the password), bounded retries, and one last line naming the
 * setting to fix and the cause; then exit 1.
 */
describe('start-up failures', () => {
  const started: ServerProcess[] = [];
  const dirs: string[] = [];

  beforeAll(() => buildIfNeeded(), 240_000);
  afterAll(async () => {
    for (const server of started) await server.kill();
    dirs.forEach(removeDir);
  });

  async function start(extra: Record<string, string>, prepare?: (dir: string) => Record<string, string>) {
    const settings = await serverEnv(extra);
    dirs.push(settings.dir);
    if (prepare) Object.assign(settings.env, prepare(settings.dir));
    const server = new ServerProcess(process.execPath, ['dist/src/main.js'], settings.env);
    started.push(server);
    return { server, settings };
  }

  /** Waits for the exit; every line must be a JSON record; returns them and the one fatal line. */
  async function failed(server: ServerProcess) {
    const { code } = await server.exited;
    expect(code).toBe(1);
    expect(server.lines.filter((line) => !isJsonObject(line))).toEqual([]);
    const records = server.records();
    const fatal = records.filter((r) => r.level === 60);
    expect(fatal).toHaveLength(1);
    expect(records[records.length - 1]).toBe(fatal[0]);
    return { records, fatal: fatal[0] };
  }

  it('waits for a database that refuses, in JSON, and gives up after the retries naming DATABASE_URL', async () => {
    const port = await freePort();
    const { server } = await start({
      DATABASE_URL: `postgres://postgres:secretpw@127.0.0.1:${port}/phone`,
      DATABASE_CONNECT_RETRIES: '3',
      DATABASE_CONNECT_RETRY_DELAY: '1s',
    });
    const opening = await server.record('the line naming the database', (r) => r.context === 'Database', 30_000);
    expect(opening.database).toEqual({ host: '127.0.0.1', port: String(port), database: 'phone', user: 'postgres' });
    const { records, fatal } = await failed(server);
    expect(records[0].time).toBeLessThanOrEqual(opening.time);
    expect(fatal.time - opening.time).toBeGreaterThanOrEqual(2_900);
    const retries = records.filter((r) => r.level === 40 && r.context === 'Database');
    // the database is named before the first retry, whatever the machine's load
    expect(retries.every((r) => r.time >= opening.time)).toBe(true);
    expect(retries.map((r) => [r.reason, r.code, r.attempt, r.attempts])).toEqual([
      ['connection refused', 'ECONNREFUSED', 1, 4],
      ['connection refused', 'ECONNREFUSED', 2, 4],
      ['connection refused', 'ECONNREFUSED', 3, 4],
    ]);
    expect(fatal).toMatchObject({ setting: 'DATABASE_URL', reason: 'connection refused', attempts: 4 });
    expect(fatal.msg).toContain('DATABASE_URL');
    expect(fatal.msg).toContain(`127.0.0.1:${port}`);
    expect(server.lines.join('\n')).not.toContain('secretpw');
  }, 120_000);

  it('stops at once for a database that does not exist', async () => {
    const name = `no_such_db_${randomBytes(6).toString('hex')}`;
    // the suite's PostgreSQL (embedded unless TEST_PG_URL names one), with a database it lacks
    const url = new URL(PG_URL);
    url.pathname = `/${name}`;
    const { server } = await start({
      DATABASE_URL: url.toString(),
      DATABASE_CONNECT_RETRIES: '5',
      DATABASE_CONNECT_RETRY_DELAY: '10s',
    });
    const { records, fatal } = await failed(server);
    expect(fatal).toMatchObject({ setting: 'DATABASE_URL', reason: 'the database does not exist', code: '3D000' });
    expect(fatal.msg).toContain(`DATABASE_URL (database "${name}" on ${url.hostname}:${url.port || 5432}`);
    expect(records.filter((r) => r.level === 40 && r.context === 'Database')).toEqual([]);
  }, 120_000);

  it.each([
    ['a directory', (dir: string) => mkdirSync(join(dir, 'db.sqlite')), 'db.sqlite', 'is a directory'],
    [
      'under a file',
      (dir: string) => writeFileSync(join(dir, 'plain-file'), 'x'),
      'plain-file/db.sqlite',
      'directory missing',
    ],
  ])(
    'names an SQLite path that is %s',
    async (_what, prepare, path, reason) => {
      const { server } = await start({}, (dir) => {
        prepare(dir);
        return { DATABASE_URL: join(dir, path) };
      });
      const { fatal } = await failed(server);
      expect(fatal).toMatchObject({ setting: 'DATABASE_URL', attempts: 1 });
      expect(fatal.reason).toContain(reason);
      expect(fatal.msg).toContain(`DATABASE_URL (SQLite file ${join(fatal.database.file)})`);
    },
    60_000,
  );

  it('names an invalid setting in one JSON line', async () => {
    const { server } = await start({ PORT: '70000' });
    const { records, fatal } = await failed(server);
    expect(records).toHaveLength(1);
    expect(fatal).toMatchObject({
      settings: ['PORT'],
      problems: ['PORT: PORT must be an integer between 0 and 65535'],
    });
    expect(fatal.msg).toContain('PORT must be an integer between 0 and 65535');
  }, 60_000);

  it('names the pumping guard settings it refuses: an unknown mode, a negative floor, a bad CIDR', async () => {
    const { server } = await start({
      SMS_FRAUD_MODE: 'block',
      SMS_FRAUD_PREFIX_FLOOR: '-5',
      SMS_FRAUD_ALLOWED_ADDRESSES: '10.0.0.0/8,10.0.0.0/40',
    });
    const { fatal } = await failed(server);
    expect(fatal).toMatchObject({
      settings: ['SMS_FRAUD_MODE', 'SMS_FRAUD_PREFIX_FLOOR', 'SMS_FRAUD_ALLOWED_ADDRESSES'],
      problems: [
        'SMS_FRAUD_MODE: SMS_FRAUD_MODE must be off, record or enforce',
        'SMS_FRAUD_PREFIX_FLOOR: SMS_FRAUD_PREFIX_FLOOR must be an integer between 1 and 1000000',
        'SMS_FRAUD_ALLOWED_ADDRESSES: not an IP address or CIDR: "10.0.0.0/40"',
      ],
    });
  }, 60_000);

  it('names SMS_TEMPLATES in one JSON line when a template cannot be used (checked as the phone module starts)', async () => {
    const { server } = await start({ SMS_TEMPLATES: '{"en": "{{code}}", "fr": "Votre code"}' });
    const { fatal } = await failed(server);
    expect(fatal).toMatchObject({
      settings: ['SMS_TEMPLATES'],
      problems: ['SMS_TEMPLATES: the template for "fr" must contain {{code}}'],
    });
    expect(fatal.msg).toContain('SMS_TEMPLATES: the template for "fr" must contain {{code}}');
  }, 60_000);

  it('refuses SMS_TEST_NUMBERS in production in one JSON line naming it, unless SMS_TEST_NUMBERS_IN_PRODUCTION=true', async () => {
    const production = {
      NODE_ENV: 'production',
      CODE_HMAC_KEY: randomBytes(32).toString('base64'),
      SMS_TEST_NUMBERS: '+41790000001=123456',
    };
    const { server } = await start(production);
    const { fatal } = await failed(server);
    expect(fatal).toMatchObject({
      settings: ['SMS_TEST_NUMBERS'],
      problems: [
        'SMS_TEST_NUMBERS: test numbers are refused when NODE_ENV=production; ' +
          'set SMS_TEST_NUMBERS_IN_PRODUCTION=true to allow them there (e.g. for app-store review)',
      ],
    });
    expect(fatal.msg).toContain('SMS_TEST_NUMBERS_IN_PRODUCTION=true');

    const allowed = await start({ ...production, SMS_TEST_NUMBERS_IN_PRODUCTION: 'true' });
    await allowed.server.record('the line that the service listens', (r) => /listening/i.test(String(r.msg)), 60_000);
    allowed.server.signal('SIGTERM');
    expect((await allowed.server.exited).code).toBe(0);
  }, 120_000);

  it('names ENV_FILE when the file it names is missing', async () => {
    const { server, settings } = await start({}, (dir) => ({ ENV_FILE: join(dir, 'missing.env') }));
    const { records, fatal } = await failed(server);
    expect(records).toHaveLength(1);
    expect(fatal).toMatchObject({ setting: 'ENV_FILE', path: join(settings.dir, 'missing.env'), code: 'ENOENT' });
  }, 60_000);

  it('refuses to overwrite a token file of another database in a JSON line that names FIRST_INSTANCE_PAT_PATH', async () => {
    const settings = await serverEnv();
    dirs.push(settings.dir);
    writeFileSync(settings.env.FIRST_INSTANCE_PAT_PATH, 'the quick start database’s token\n');
    const server = new ServerProcess(process.execPath, ['dist/src/main.js'], settings.env);
    started.push(server);
    const { fatal } = await failed(server);
    expect(fatal).toMatchObject({ setting: 'FIRST_INSTANCE_PAT_PATH', path: settings.env.FIRST_INSTANCE_PAT_PATH });
    expect(fatal.msg).toContain('Set FIRST_INSTANCE_PAT_PATH to a new file');
  }, 60_000);
});

function isJsonObject(line: string): boolean {
  try {
    const parsed: unknown = JSON.parse(line);
    return typeof parsed === 'object' && parsed !== null;
  } catch {
    return false;
  }
}
