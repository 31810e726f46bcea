import { Client, Pool, PoolClient } from 'pg';
import { createHuman, randomMobile } from './support/factories';
import { phoneApi, startPhoneApp, wrongCodeFor } from './support/phone-api';
import { dataSourceOf, PG_URL, TestApp } from './support/test-app';

/**
 * Issue 27, point 3: the next release's migration runs while this one serves. Its additive
 * changes (a column, an index) and a column's type change that keeps every value reach
 * connections that have already prepared their statements: every answer stays what it was.
 * Each pooled connection is made to serve the requests alone in turn (the test holds the
 * others), before and after each change, so none is left out.
 */

/** Small, so that every connection is seen; the others wait for the one handed back. */
const POOL_SIZE = 3;

/** What a rolling upgrade's first step may run (it uses a column name no release reads). */
const ADDITIVE = [
  'ALTER TABLE users ADD COLUMN next_release_note text',
  "ALTER TABLE phone_codes ADD COLUMN next_release_channel varchar(16) DEFAULT 'sms'",
  'ALTER TABLE events ADD COLUMN next_release_trace text',
  'CREATE INDEX next_release_users ON users (next_release_note)',
  'CREATE INDEX next_release_phone_codes ON phone_codes (next_release_channel)',
  'CREATE INDEX next_release_events ON events (type, next_release_trace)',
];

/**
 * Columns the requests' statements return, widened in place (varchar is binary-coercible to text:
 * no rewrite, every value kept). A statement prepared before returns another type now, which
 * PostgreSQL refuses (0A000, "cached plan must not change result type") however it names its
 * columns; the adapter prepares it again.
 */
const TYPE_CHANGES = [
  'ALTER TABLE users ALTER COLUMN phone TYPE text',
  'ALTER TABLE phone_codes ALTER COLUMN phone TYPE text',
  'ALTER TABLE events ALTER COLUMN type TYPE text',
];

type Outcome = Record<'set' | 'wrongCode' | 'rightCode' | 'get', number> & { phone: unknown };

const pidOf = (client: PoolClient) => (client as unknown as { processID: number }).processID;

describe('schema changes under a running instance (postgres)', () => {
  let t: TestApp;
  let api: ReturnType<typeof phoneApi>;
  let pool: Pool;
  let ddl: Client;
  let userId: string;
  /** the backend of each pooled connection, as the warm-up saw them */
  let warmed: number[] = [];

  beforeAll(async () => {
    // a connection may wait for the one the test hands back: longer than the default second
    t = await startPhoneApp('postgres', {
      DATABASE_POOL_SIZE: String(POOL_SIZE),
      DATABASE_CONNECT_TIMEOUT: '20s',
      // what the test is about: statements prepared on each connection (auto would do it too)
      DATABASE_PREPARED_STATEMENTS: 'on',
    });
    api = phoneApi(t);
    // TypeORM's PostgreSQL driver keeps node-postgres's pool as `master`
    pool = (dataSourceOf(t).driver as unknown as { master: Pool }).master;
    // the app's own schema (dropped with it, and what the test adds with it)
    ddl = new Client({ connectionString: PG_URL, options: `-c search_path=${t.env.DATABASE_SCHEMA}` });
    await ddl.connect();
    ({ userId } = await createHuman(t));
  }, 60_000);
  afterAll(async () => {
    await ddl?.end();
    await t?.close();
  }, 60_000);

  /** SetPhone, VerifyPhone with a wrong then the right code, GetUserByID: the statuses and the phone read back. */
  async function requests(): Promise<Outcome> {
    const phone = randomMobile();
    const set = await api.set(userId, { phone, returnCode: {} });
    const code = String(set.body.verificationCode ?? '000000');
    const wrongCode = await api.verify(userId, wrongCodeFor(code));
    const rightCode = await api.verify(userId, code);
    const get = await api.get(userId);
    const read = get.body.user?.human?.phone as { phone?: string; isVerified?: boolean } | undefined;
    return {
      set: set.status,
      wrongCode: wrongCode.status,
      rightCode: rightCode.status,
      get: get.status,
      phone: read?.phone === phone ? read : { expected: phone, read },
    };
  }

  /** Every connection's answers as on an unchanged schema: no 500. */
  const expected = () =>
    Array.from({ length: POOL_SIZE }, () => ({
      set: 200,
      wrongCode: 400,
      rightCode: 200,
      get: 200,
      phone: { phone: expect.stringMatching(/^\+4179\d{7}$/), isVerified: true },
    }));

  /**
   * Checks out every connection of the pool, runs `change` while the app can use none, then hands
   * back one connection at a time and runs the requests on it alone. Returns whether those are the
   * warm-up's connections (node-postgres's pool closes one whose statement failed outside a
   * transaction), each one's outcome and the error lines the app logged meanwhile.
   */
  async function onEveryConnection(change: string[]) {
    const logged = t.logs.length;
    const held: Array<PoolClient | undefined> = [];
    try {
      for (let i = 0; i < POOL_SIZE; i++) held.push(await pool.connect());
      const pids = held.map((client) => pidOf(client!)).sort();
      if (warmed.length === 0) warmed = pids;
      const warmedConnections = pool.totalCount === POOL_SIZE && pids.join() === warmed.join();
      for (const statement of change) await ddl.query(statement);
      const outcomes: Outcome[] = [];
      for (let i = 0; i < POOL_SIZE; i++) {
        const mine = held[i]!;
        held[i] = undefined;
        // the only idle connection: the app's next checkout gets it
        mine.release();
        outcomes.push(await requests());
        held[i] = await pool.connect();
      }
      const errors = t.logs
        .slice(logged)
        .map((line) => JSON.parse(line) as { level: number; msg?: string; err?: { type: string; message: string } })
        .filter((entry) => entry.level >= 50)
        .map((entry) => (entry.err ? `${entry.err.type}: ${entry.err.message}` : entry.msg));
      return { warmedConnections, outcomes, errors };
    } finally {
      for (const client of held) client?.release();
    }
  }

  const unchanged = { warmedConnections: true, outcomes: expected(), errors: [] };

  it('warm-up: every pooled connection prepares the requests’ statements', async () => {
    expect(await onEveryConnection([])).toEqual(unchanged);
  });

  it('a column and an index added to users, phone_codes and events change no answer', async () => {
    expect(await onEveryConnection(ADDITIVE)).toEqual(unchanged);
    const { rows } = await ddl.query(
      `SELECT count(*)::int AS n FROM information_schema.columns WHERE table_schema = current_schema() AND column_name LIKE 'next_release_%'`,
    );
    expect(rows).toEqual([{ n: 3 }]);
  });

  it('a column a statement returns changing type (0A000 on a prepared statement) changes no answer', async () => {
    expect(await onEveryConnection(TYPE_CHANGES)).toEqual(unchanged);
    const { rows } = await ddl.query(
      `SELECT table_name, data_type FROM information_schema.columns WHERE table_schema = current_schema() AND (table_name, column_name) IN (('users', 'phone'), ('phone_codes', 'phone'), ('events', 'type')) ORDER BY table_name`,
    );
    expect(rows).toEqual([
      { table_name: 'events', data_type: 'text' },
      { table_name: 'phone_codes', data_type: 'text' },
      { table_name: 'users', data_type: 'text' },
    ]);
  });
});
