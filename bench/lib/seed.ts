import Database from 'better-sqlite3';
import { createHmac, randomInt } from 'node:crypto';
import { Client } from 'pg';

/**
 * Bulk seeding straight into the database, with the server stopped: rows in exactly the shape the
 * app writes for AddHumanUser with `phone.returnCode` (src/users/users.service.ts,
 * src/phone/phone-verification.service.ts): a `users` row at sequence 3, its three events
 * (user.human.added, user.human.phone.changed, user.human.phone.code.added) and a pending
 * `phone_codes` row whose MAC is the one src/phone/code-mac.ts computes, so the right code verifies.
 */

/** IDs as src/common/ids/id-generator.ts makes them: 41 bits ms since 2024, 10 bits node, 12 bits sequence. */
const ID_EPOCH = Date.UTC(2024, 0, 1);
/** The node id the seeder writes with. Its IDs lie an hour in the past, so they never meet the server's. */
const SEED_NODE = 1023n;

class SeedIds {
  private k = 0;
  private msPart = 0n;
  private msOf = -1;

  constructor(private readonly baseMs: number) {}

  next(): string {
    const ms = this.baseMs + Math.floor(this.k / 4096);
    if (ms !== this.msOf) {
      this.msOf = ms;
      this.msPart = (BigInt(ms - ID_EPOCH) << 22n) | (SEED_NODE << 12n);
    }
    const id = this.msPart | BigInt(this.k % 4096);
    this.k++;
    return id.toString();
  }
}

export interface HmacKey {
  id: string;
  secret: Buffer;
}

/** Parses the "keyId:base64" CODE_HMAC_KEY the bench passes to the server. */
export function parseHmacKey(spec: string): HmacKey {
  const colon = spec.indexOf(':');
  return { id: spec.slice(0, colon), secret: Buffer.from(spec.slice(colon + 1), 'base64') };
}

export function codeMac(key: HmacKey, userId: string, phone: string, code: string): string {
  return createHmac('sha256', key.secret).update(`${userId}\n${phone}\n${code}`).digest('hex');
}

export interface SeedSettings {
  count: number;
  orgId: string;
  /** The user who "created" the users (the admin machine user), as `creator` of the events. */
  creatorId: string;
  key: HmacKey;
  /** PHONE_CODE_TTL the server runs with, in ms. */
  codeTtlMs: number;
}

/** What the bench needs to drive the seeded users: their IDs, numbers and right codes, by index. */
export interface SeededUsers {
  ids: string[];
  phones: string[];
  codes: string[];
  seconds: number;
  rows: number;
}

/** Swiss mobile numbers +41 79 xxx xx xx: valid for libphonenumber, 10 million of them. */
export function seededPhone(i: number): string {
  return `+4179${String(i).padStart(7, '0')}`;
}

const USER_COLUMNS = [
  'id',
  'org_id',
  'type',
  'state',
  'username',
  'given_name',
  'family_name',
  'nick_name',
  'display_name',
  'preferred_language',
  'gender',
  'email',
  'email_verified',
  'phone',
  'phone_verified',
  'machine_name',
  'machine_description',
  'sequence',
  'created_at',
  'changed_at',
] as const;
const USER_PG_TYPES = [
  'varchar',
  'varchar',
  'varchar',
  'int',
  'varchar',
  'varchar',
  'varchar',
  'varchar',
  'varchar',
  'varchar',
  'int',
  'varchar',
  'boolean',
  'varchar',
  'boolean',
  'varchar',
  'varchar',
  'int',
  'bigint',
  'bigint',
];
const EVENT_COLUMNS = [
  'id',
  'aggregate_type',
  'aggregate_id',
  'sequence',
  'type',
  'payload',
  'creator',
  'resource_owner',
  'created_at',
] as const;
const EVENT_PG_TYPES = ['varchar', 'varchar', 'varchar', 'int', 'varchar', 'text', 'varchar', 'varchar', 'bigint'];
const CODE_COLUMNS = [
  'id',
  'user_id',
  'phone',
  'mac',
  'key_id',
  'created_at',
  'expires_at',
  'attempts',
  'consumed_at',
] as const;
const CODE_PG_TYPES = ['varchar', 'varchar', 'varchar', 'varchar', 'varchar', 'bigint', 'bigint', 'int', 'bigint'];

type Row = Array<string | number | boolean | null>;

interface Batch {
  users: Row[];
  events: Row[];
  codes: Row[];
}

/** Rows for users [from, to); fills `out` with the IDs, numbers and codes. */
function makeBatch(settings: SeedSettings, ids: SeedIds, from: number, to: number, now: number, out: SeededUsers) {
  const batch: Batch = { users: [], events: [], codes: [] };
  const expiry = now + settings.codeTtlMs;
  const expiryIso = new Date(expiry).toISOString();
  for (let i = from; i < to; i++) {
    const id = ids.next();
    const phone = seededPhone(i);
    const code = String(randomInt(1_000_000)).padStart(6, '0');
    const email = `bench${i}@example.com`;
    const family = `User${i}`;
    batch.users.push([
      id,
      settings.orgId,
      'human',
      1,
      email,
      'Bench',
      family,
      null,
      `Bench ${family}`,
      null,
      0,
      email,
      false,
      phone,
      false,
      null,
      null,
      3,
      now,
      now,
    ]);
    const event = (sequence: number, type: string, payload: object): Row => [
      ids.next(),
      'user',
      id,
      sequence,
      type,
      JSON.stringify(payload),
      settings.creatorId,
      settings.orgId,
      now,
    ];
    batch.events.push(
      event(1, 'user.human.added', { username: email, email, emailVerified: false }),
      event(2, 'user.human.phone.changed', { phone }),
      event(3, 'user.human.phone.code.added', { expiry: expiryIso, codeReturned: true }),
    );
    batch.codes.push([
      ids.next(),
      id,
      phone,
      codeMac(settings.key, id, phone, code),
      settings.key.id,
      now,
      expiry,
      0,
      null,
    ]);
    out.ids.push(id);
    out.phones.push(phone);
    out.codes.push(code);
  }
  return batch;
}

// ---- SQLite ---------------------------------------------------------------------------------

/** Reads the organization and admin user that the server's first start created. */
export function sqliteInstance(file: string): { orgId: string; adminId: string } {
  const db = new Database(file, { readonly: true });
  try {
    return instanceFrom(
      db.prepare('SELECT id FROM organizations').all() as Array<{ id: string }>,
      db.prepare("SELECT id FROM users WHERE type = 'machine' AND username = 'admin'").all() as Array<{ id: string }>,
    );
  } finally {
    db.close();
  }
}

function instanceFrom(orgs: Array<{ id: string }>, admins: Array<{ id: string }>) {
  if (orgs.length !== 1 || admins.length !== 1) {
    throw new Error(
      `expected one organization and one admin after first start, found ${orgs.length} and ${admins.length}`,
    );
  }
  return { orgId: orgs[0].id, adminId: admins[0].id };
}

/** Multi-row INSERTs (as many rows per statement as SQLite's 32766 parameters allow), 50k users per transaction. */
export function seedSqlite(file: string, settings: SeedSettings, onProgress?: (done: number) => void): SeededUsers {
  const started = performance.now();
  const db = new Database(file);
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = OFF');
  db.pragma('cache_size = -262144');
  const bool = (v: Row[number]) => (typeof v === 'boolean' ? (v ? 1 : 0) : v);
  const inserter = (table: string, columns: readonly string[]) => {
    const perStatement = Math.min(500, Math.floor(32_000 / columns.length));
    const statementFor = (rows: number) =>
      db.prepare(
        `INSERT INTO ${table} (${columns.join(', ')}) VALUES ` +
          Array.from({ length: rows }, () => `(${columns.map(() => '?').join(', ')})`).join(', '),
      );
    const full = statementFor(perStatement);
    return (rows: Row[]) => {
      for (let at = 0; at < rows.length; at += perStatement) {
        const slice = rows.slice(at, at + perStatement);
        const statement = slice.length === perStatement ? full : statementFor(slice.length);
        statement.run(slice.flat().map(bool));
      }
    };
  };
  const insertUsers = inserter('users', USER_COLUMNS);
  const insertEvents = inserter('events', EVENT_COLUMNS);
  const insertCodes = inserter('phone_codes', CODE_COLUMNS);
  const out: SeededUsers = { ids: [], phones: [], codes: [], seconds: 0, rows: 0 };
  const ids = new SeedIds(Date.now() - 3_600_000);
  const now = Date.now();
  const write = db.transaction((batch: Batch) => {
    insertUsers(batch.users);
    insertEvents(batch.events);
    insertCodes(batch.codes);
  });
  try {
    const chunk = 50_000;
    for (let from = 0; from < settings.count; from += chunk) {
      const batch = makeBatch(settings, ids, from, Math.min(settings.count, from + chunk), now, out);
      write(batch);
      out.rows += batch.users.length + batch.events.length + batch.codes.length;
      onProgress?.(Math.min(settings.count, from + chunk));
    }
    db.pragma('wal_checkpoint(TRUNCATE)');
  } finally {
    db.close();
  }
  out.seconds = (performance.now() - started) / 1000;
  return out;
}

// ---- PostgreSQL -----------------------------------------------------------------------------

export async function postgresInstance(url: string): Promise<{ orgId: string; adminId: string }> {
  const client = new Client({ connectionString: url });
  await client.connect();
  try {
    const orgs = await client.query<{ id: string }>('SELECT id FROM organizations');
    const admins = await client.query<{ id: string }>(
      "SELECT id FROM users WHERE type = 'machine' AND username = 'admin'",
    );
    return instanceFrom(orgs.rows, admins.rows);
  } finally {
    await client.end();
  }
}

/** One INSERT … SELECT FROM unnest($1::type[], …) per table and batch of 10k users, one transaction each; then ANALYZE. */
export async function seedPostgres(
  url: string,
  settings: SeedSettings,
  onProgress?: (done: number) => void,
): Promise<SeededUsers> {
  const started = performance.now();
  const client = new Client({ connectionString: url });
  await client.connect();
  const insert = async (table: string, columns: readonly string[], types: string[], rows: Row[]) => {
    const arrays = columns.map((_, c) => rows.map((row) => row[c]));
    await client.query(
      `INSERT INTO ${table} (${columns.join(', ')}) SELECT * FROM unnest(${types.map((t, i) => `$${i + 1}::${t}[]`).join(', ')})`,
      arrays,
    );
  };
  const out: SeededUsers = { ids: [], phones: [], codes: [], seconds: 0, rows: 0 };
  const ids = new SeedIds(Date.now() - 3_600_000);
  const now = Date.now();
  try {
    await client.query('SET synchronous_commit = off');
    const chunk = 10_000;
    for (let from = 0; from < settings.count; from += chunk) {
      const batch = makeBatch(settings, ids, from, Math.min(settings.count, from + chunk), now, out);
      await client.query('BEGIN');
      await insert('users', USER_COLUMNS, USER_PG_TYPES, batch.users);
      await insert('events', EVENT_COLUMNS, EVENT_PG_TYPES, batch.events);
      await insert('phone_codes', CODE_COLUMNS, CODE_PG_TYPES, batch.codes);
      await client.query('COMMIT');
      out.rows += batch.users.length + batch.events.length + batch.codes.length;
      onProgress?.(Math.min(settings.count, from + chunk));
    }
    // autovacuum would analyze the new rows within a minute, and vacuum them (PostgreSQL ≥ 13 does
    // after inserts too) while the runs measure PostgreSQL's CPU time: both now, as after any bulk
    // load. Only the seeded tables, as autovacuum would: it never analyzes a table nobody wrote to,
    // and one analyzed while empty (limit_hits, say) gets generic plans that scan it sequentially
    // until its next analyze, so that every statement on it got slower as a run filled it.
    await client.query('VACUUM ANALYZE users, events, phone_codes');
  } finally {
    await client.end();
  }
  out.seconds = (performance.now() - started) / 1000;
  return out;
}

// ---- PostgreSQL databases of the bench ------------------------------------------------------

const ADMIN_URL = 'postgres://postgres@127.0.0.1:5432/postgres';

export function postgresUrl(database: string): string {
  return `postgres://postgres@127.0.0.1:5432/${database}`;
}

export async function createPostgresDatabase(name: string): Promise<void> {
  const client = new Client({ connectionString: ADMIN_URL });
  await client.connect();
  try {
    await client.query(`CREATE DATABASE ${name}`);
  } finally {
    await client.end();
  }
}

export async function dropPostgresDatabase(name: string): Promise<void> {
  const client = new Client({ connectionString: ADMIN_URL });
  await client.connect();
  try {
    await client.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
  } finally {
    await client.end();
  }
}
