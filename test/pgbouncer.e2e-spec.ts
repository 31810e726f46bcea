import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { Client } from 'pg';
import type { Response } from 'supertest';
import { createApp } from '../src/app.setup';
import { MIGRATIONS } from '../src/database/migrations';
import { Database } from '../src/database/sql';
import { createHuman, randomMobile } from './support/factories';
import { FakeTwilio } from './support/fake-twilio';
import { OwnPgBouncer } from './support/own-pgbouncer';
import { outboxIdle, phoneApi, phoneErrors, wrongCodeFor } from './support/phone-api';
import { bearer, dataSourceOf, PG_URL, startApp, TestApp } from './support/test-app';
import { until } from './support/wait';

/**
 * The app behind PgBouncer in transaction mode (issue 28, point 1): PgBouncer 1.18 keeps no
 * prepared statements per client, and each transaction may get another server connection. What
 * to set is in docs/postgres-poolers.md.
 *
 * The app gets a database of its own and no DATABASE_SCHEMA: PgBouncer 1.18 refuses the startup
 * parameter `options` that carries `-c search_path=…` (and would lose it when told to ignore
 * it). It refuses `statement_timeout` too, which the app always sends: PgBouncer is told to
 * ignore it, and the database's own setting (ALTER DATABASE … SET statement_timeout) takes its
 * place on every server connection.
 */

const POOLER_WARNING = 'a transaction pooler hands transactions different server connections';
const TWILIO_SID = `AC${randomBytes(16).toString('hex')}`;
const TWILIO_TOKEN = randomBytes(16).toString('hex');

let bouncer: OwnPgBouncer;
/** the databases the apps got, dropped at the end */
const databases: string[] = [];

/** Runs `sql` on the run's PostgreSQL itself (a database of it), not through PgBouncer: the rows. */
async function direct(sql: string, database?: string, params: unknown[] = []): Promise<Record<string, unknown>[]> {
  const url = new URL(PG_URL);
  if (database) url.pathname = `/${database}`;
  const client = new Client({ connectionString: url.toString() });
  await client.connect();
  try {
    return (await client.query(sql, params)).rows as Record<string, unknown>[];
  } finally {
    await client.end();
  }
}

beforeAll(async () => {
  bouncer = await OwnPgBouncer.start({
    server: PG_URL,
    databases: {},
    // 3 server connections for the app's 20: transactions take turns on them
    poolSize: 3,
    ignoreStartupParameters: ['statement_timeout'],
  });
}, 60_000);

afterAll(async () => {
  await bouncer?.close();
  for (const database of databases) await direct(`DROP DATABASE IF EXISTS ${database} WITH (FORCE)`);
}, 60_000);

/** A new database of the run's PostgreSQL, as PgBouncer's database of that name (`poolSize` server connections). */
async function newDatabase(poolSize?: number): Promise<{ database: string; url: string }> {
  const database = `pv_pgbouncer_${randomHex()}`;
  await direct(`CREATE DATABASE ${database}`);
  databases.push(database);
  await direct(`ALTER DATABASE ${database} SET statement_timeout = '1s'`);
  return { database, url: await bouncer.addDatabase(database, { dbname: database, poolSize }) };
}

/** The app on a new database of its own (no schema: see above), through PgBouncer. */
async function startBehindBouncer(env: Record<string, string>, poolSize?: number): Promise<TestApp> {
  const { url } = await newDatabase(poolSize);
  try {
    return await startApp('postgres', {
      DATABASE_URL: url,
      DATABASE_SCHEMA: '',
      DATABASE_CONNECT_RETRIES: '1',
      ...env,
    });
  } catch (error) {
    throw new Error(`${String(error)}\nPgBouncer's log:\n${bouncer.log()}`);
  }
}

const poolerWarnings = (t: TestApp) => t.logs.filter((line) => line.includes(POOLER_WARNING));

describe.each(['auto', 'off'])(
  'the app behind PgBouncer 1.18, transaction mode (DATABASE_PREPARED_STATEMENTS=%s)',
  (mode) => {
    const twilio = new FakeTwilio(TWILIO_SID, TWILIO_TOKEN);
    let t: TestApp;
    let api: ReturnType<typeof phoneApi>;
    /** every answer the app gave in this describe */
    const answers: Response[] = [];
    const answered = (res: Response) => (answers.push(res), res);

    beforeAll(async () => {
      await twilio.start();
      t = await startBehindBouncer({
        DATABASE_PREPARED_STATEMENTS: mode,
        SMS_PROVIDER: 'twilio',
        TWILIO_BASE_URL: twilio.url,
        TWILIO_ACCOUNT_SID: TWILIO_SID,
        TWILIO_AUTH_TOKEN: TWILIO_TOKEN,
        TWILIO_FROM_NUMBER: '+15005550006',
        SMS_POLL_INTERVAL: '50ms',
      });
      api = phoneApi(t);
    }, 60_000);
    afterAll(async () => {
      await t?.close();
      await twilio.close();
    }, 60_000);

    it('statements run under the database’s statement_timeout, which PgBouncer’s server connections have', async () => {
      expect(await dataSourceOf(t).query('SHOW statement_timeout')).toEqual([{ statement_timeout: '1s' }]);
    });

    it('SetPhone, ResendPhoneCode, VerifyPhone wrong and right, GetUserByID', async () => {
      const { userId } = await createHuman(t);
      const phone = randomMobile();
      const set = answered(await api.set(userId, { phone, returnCode: {} }));
      expect(set.status).toBe(200);
      const resent = answered(await api.resend(userId, { returnCode: {} }));
      expect(resent.status).toBe(200);
      const code = resent.body.verificationCode as string;
      expect(code).toMatch(/^\d{6}$/);
      const wrong = answered(await api.verify(userId, wrongCodeFor(code)));
      phoneErrors.wrongCode(wrong, 4);
      expect(answered(await api.verify(userId, code)).status).toBe(200);
      const got = answered(await api.get(userId));
      expect(got.status).toBe(200);
      expect(got.body.user.human.phone).toEqual({ phone, isVerified: true });
    });

    it('20 requests at once across 4 users: every one answered as expected, none 5xx', async () => {
      const users = await Promise.all(
        Array.from({ length: 4 }, () => createHuman(t, { phone: randomMobile(), phoneMode: 'returnCode' })),
      );
      // SetPhone goes to users of their own, so that it changes no code the burst verifies
      const others = await Promise.all(users.map(() => createHuman(t)));
      const calls: Array<[expected: number, call: () => Promise<Response>]> = users.flatMap(
        ({ userId, phoneCode }, i) => [
          [200, () => api.get(userId)],
          [200, () => api.get(userId)],
          [400, () => api.verify(userId, wrongCodeFor(phoneCode!))],
          [200, () => api.set(others[i].userId, { phone: randomMobile(), returnCode: {} })],
          [
            200,
            () =>
              t
                .http()
                .post('/v2/organizations')
                .set(bearer(t.adminToken))
                .send({ name: `Org ${randomHex()}` }),
          ],
        ],
      );
      const responses = await Promise.all(calls.map(([, call]) => call()));
      responses.forEach(answered);
      expect(responses.map((res) => res.status)).toEqual(calls.map(([expected]) => expected));

      // and each user's right code still verifies, all at once
      const verified = await Promise.all(users.map(({ userId, phoneCode }) => api.verify(userId, phoneCode!)));
      verified.forEach(answered);
      expect(verified.map((res) => res.status)).toEqual([200, 200, 200, 200]);
    });

    it('the outbox worker sends the SMS through the fake Twilio; the code it sent verifies', async () => {
      const phones = [randomMobile(), randomMobile(), randomMobile()];
      const users = await Promise.all(phones.map((phone) => createHuman(t, { phone, phoneMode: 'sendCode' })));
      await outboxIdle(t);
      for (const [i, { userId }] of users.entries()) {
        const sent = twilio.to(phones[i]);
        expect(sent).toHaveLength(1);
        const code = /\d{6}/.exec(sent[0].body)![0];
        expect(answered(await api.verify(userId, code)).status).toBe(200);
      }
    });

    it(`no answer was a 5xx; ${mode === 'auto' ? 'at most one warning about the pooler' : 'no warning'}`, () => {
      expect(answers.length).toBeGreaterThan(20);
      expect(answers.filter((res) => res.status >= 500)).toEqual([]);
      expect(poolerWarnings(t).length).toBeLessThanOrEqual(mode === 'auto' ? 1 : 0);
    });
  },
);

/**
 * PgBouncer with ONE server connection for the app's database, the app's pool with two clients: a statement
 * the first client prepared exists on that server connection when the second client prepares it
 * too (42P05 "already exists"). Transaction A holds the first client while B takes the second.
 */
describe('two client connections on one server connection', () => {
  /** A and B run one statement, new to the run; A prepares it first. B's outcome. */
  async function preparedTwice(t: TestApp): Promise<PromiseSettledResult<unknown>> {
    const db = t.app.get(Database);
    const column = `probe_${randomHex()}`;
    const sql = `SELECT $1::text AS ${column}`;
    let finishA!: () => void;
    let aRan!: () => void;
    const aHasRun = new Promise<void>((resolve) => (aRan = resolve));
    const a = db.transaction(async (tx) => {
      const rows = await db.rows(tx, sql, ['a']);
      aRan();
      await new Promise<void>((resolve) => (finishA = resolve));
      return rows;
    });
    await aHasRun;
    // A's client is lent out: B gets the pool's second client, and waits in PgBouncer for the server connection
    const b = Promise.allSettled([db.transaction((tx) => db.rows(tx, sql, ['b']))]);
    finishA();
    expect(await a).toEqual([{ [column]: 'a' }]);
    const [outcome] = await b;
    if (outcome.status === 'fulfilled') expect(outcome.value).toEqual([{ [column]: 'b' }]);
    return outcome;
  }

  it.each(['auto', 'off'])(
    '%s: B commits too (auto: run once more, unnamed, with one warning)',
    async (mode) => {
      const t = await startBehindBouncer({ DATABASE_PREPARED_STATEMENTS: mode, DATABASE_POOL_SIZE: '2' }, 1);
      try {
        expect((await preparedTwice(t)).status).toBe('fulfilled');
        expect(poolerWarnings(t)).toHaveLength(mode === 'auto' ? 1 : 0);
      } finally {
        await t.close();
      }
    },
    60_000,
  );

  it('on: B’s PREPARE fails, 42P05 "already exists" (why auto and off exist)', async () => {
    const t = await startBehindBouncer({ DATABASE_PREPARED_STATEMENTS: 'on', DATABASE_POOL_SIZE: '2' }, 1);
    try {
      const outcome = await preparedTwice(t);
      expect(outcome.status).toBe('rejected');
      const { reason } = outcome as PromiseRejectedResult;
      expect((reason as { driverError?: { code?: string } }).driverError?.code).toBe('42P05');
      expect(poolerWarnings(t)).toEqual([]);
    } finally {
      await t.close();
    }
  }, 60_000);

  /**
   * SetPhone looks its caller up as its transaction's first statement (CallerRef.within). On a
   * client new to the pool that statement is prepared where an earlier request prepared it: the
   * transaction runs once more, unnamed, and must look the caller up again.
   */
  it('auto: a transaction run once more looks its caller up again (SetPhone answers 200)', async () => {
    const t = await startBehindBouncer({ DATABASE_PREPARED_STATEMENTS: 'auto', DATABASE_POOL_SIZE: '10' }, 1);
    try {
      const db = t.app.get(Database);
      const api = phoneApi(t);
      const { userId } = await createHuman(t, { phone: randomMobile(), phoneMode: 'returnCode' });
      // every client of the pool lent out, so that SetPhone gets a new one
      const { inUse, idle } = db.poolStats()!;
      let release!: () => void;
      const released = new Promise<void>((resolve) => (release = resolve));
      const holding: Array<Promise<void>> = [];
      const held = Array.from({ length: inUse + idle }, () => {
        let lent!: () => void;
        holding.push(new Promise<void>((resolve) => (lent = resolve)));
        return db.transaction(async () => {
          lent();
          await released;
        });
      });
      await Promise.all(holding);
      expect(db.poolStats()).toMatchObject({ idle: 0 });
      const set = api.set(userId, { phone: randomMobile(), returnCode: {} }).then((res) => res);
      await until('a connection more in use', () => db.poolStats()!.inUse > inUse + idle, 10_000, 10);
      expect(poolerWarnings(t)).toEqual([]);
      release();
      await Promise.all(held);
      expect((await set).status).toBe(200);
      expect(poolerWarnings(t)).toHaveLength(1);
    } finally {
      await t.close();
    }
  }, 60_000);
});

/**
 * The migration lock (database.module.ts) is transaction-scoped, taken in the transaction that
 * runs the migrations. A session lock does not hold through a transaction pooler: a second
 * instance's lock statement may land on the server connection that holds the first's lock, where
 * it is granted again (both then migrate at once), and an unlock sent to another server connection
 * leaves the lock held.
 */
describe('migrations through PgBouncer', () => {
  const MIGRATION_LOCK = '7041977301';

  it('two instances start at once on a new database: the migrations run once, no lock is left', async () => {
    const { database, url } = await newDatabase();
    const dir = mkdtempSync(join(tmpdir(), 'pv-pgbouncer-'));
    const discard = new Writable({ write: (_chunk, _enc, done) => done() });
    const env = (i: number) => ({
      NODE_ENV: 'test',
      SMS_PROVIDER: 'none',
      DATABASE_URL: url,
      FIRST_INSTANCE_PAT_PATH: join(dir, `admin-${i}.pat`),
      CODE_HMAC_KEY_FILE: join(dir, 'code-hmac.key'),
      HOST: '127.0.0.1',
    });
    // the migrations run as each app is created
    const created = await Promise.allSettled([0, 1].map((i) => createApp({ env: env(i), logStream: discard })));
    const apps = created.flatMap((outcome) => (outcome.status === 'fulfilled' ? [outcome.value] : []));
    try {
      expect(created.map((outcome) => outcome.status)).toEqual(['fulfilled', 'fulfilled']);
      await Promise.all(apps.map((app) => app.init()));
      const ran = await direct('SELECT name FROM migrations ORDER BY id', database);
      expect(ran.map((row) => row.name)).toEqual(MIGRATIONS.map((migration) => migration.name));
      const locks = await direct(
        `SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND ((classid::bigint << 32) | objid::bigint) = $1`,
        database,
        [MIGRATION_LOCK],
      );
      expect(locks).toEqual([]);
    } finally {
      await Promise.all(apps.map((app) => app.close()));
      rmSync(dir, { recursive: true, force: true });
    }
  }, 120_000);
});

function randomHex(): string {
  return randomBytes(4).toString('hex');
}
