import { INestApplication, Provider } from '@nestjs/common';
import { NestExpressApplication } from '@nestjs/platform-express';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { Client } from 'pg';
import request from 'supertest';
import TestAgent from 'supertest/lib/agent';
import { DataSource } from 'typeorm';
import { createApp, startApp as startServers } from '../../src/app.setup';
import { freePort } from './free-port';
import { runDatabaseUrl } from './own-pgbouncer';
import { Clock } from '../../src/common/clock';
import { Database } from '../../src/database/sql';
import { Role } from '../../src/common/auth/caller';
import { OrganizationsService } from '../../src/users/organizations.service';

export type Db = 'sqlite' | 'postgres';
export const DATABASES: Db[] = ['sqlite', 'postgres'];
export const PG_URL = process.env.TEST_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

/** A clock tests can move forward. */
export class TestClock extends Clock {
  offsetMs = 0;
  override now(): Date {
    return new Date(Date.now() + this.offsetMs);
  }
  advance(ms: number): void {
    this.offsetMs += ms;
  }
}

export { freePort };

export interface TestApp {
  db: Db;
  app: INestApplication;
  http: () => TestAgent;
  adminToken: string;
  clock: TestClock;
  /** every JSON log line the app wrote */
  logs: string[];
  env: Record<string, string>;
  /** the management listener's port (METRICS_PORT), undefined when it is off (the default here) */
  managementPort?: number;
  close(): Promise<void>;
}

export async function createPgSchema(): Promise<string> {
  const schema = `t_${randomBytes(6).toString('hex')}`;
  const client = new Client({ connectionString: PG_URL });
  await client.connect();
  await client.query(`CREATE SCHEMA "${schema}"`);
  await client.end();
  return schema;
}

export async function dropPgSchema(schema: string): Promise<void> {
  const client = new Client({ connectionString: PG_URL });
  await client.connect();
  await client.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
  await client.end();
}

/**
 * Every startApp of the test file, finished or not. A hook that timed out leaves its start
 * running; the file's last hook waits for it and closes the app, so jest can exit.
 */
const starts = new Set<Promise<TestApp | undefined>>();
if (typeof afterAll === 'function') {
  afterAll(async () => {
    const apps = await Promise.all(starts);
    await Promise.all(apps.map((app) => app?.close()));
  }, 120_000);
}

/**
 * Boots the real app (same setup as `npm start`) on a fresh SQLite file or a fresh PostgreSQL
 * schema, listening on an ephemeral port. `close()` stops it and drops what it created; a start
 * that fails leaves nothing behind. `phoneProviders` replace the phone module's own of the same
 * token (fake channel senders).
 */
export function startApp(
  db: Db,
  env: Record<string, string> = {},
  shared?: { dir: string; schema?: string },
  phoneProviders?: Provider[],
): Promise<TestApp> {
  const start = launch(db, env, shared, phoneProviders);
  starts.add(start.catch(() => undefined));
  return start;
}

async function launch(
  db: Db,
  env: Record<string, string>,
  shared?: { dir: string; schema?: string },
  phoneProviders?: Provider[],
): Promise<TestApp> {
  const dir = shared?.dir ?? mkdtempSync(join(tmpdir(), 'pv-test-'));
  let schema: string | undefined;
  let app: NestExpressApplication | undefined;
  const removeOwn = async () => {
    if (shared) return;
    if (schema) await dropPgSchema(schema);
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    schema = db === 'postgres' ? (shared?.schema ?? (await createPgSchema())) : undefined;
    const fullEnv: Record<string, string> = {
      NODE_ENV: 'test',
      LOG_LEVEL: 'info',
      SMS_PROVIDER: 'none',
      // limits get their own tests; elsewhere they would only get in the way of the scenario
      THROTTLE_LIMIT: '0',
      SMS_RESEND_COOLDOWN: '0',
      SMS_BACKOFF_BASE: '0s',
      SMS_MAX_PER_USER_PER_HOUR: '100',
      SMS_MAX_PER_NUMBER_PER_DAY: '1000',
      // through the run's PgBouncer with TEST_PG_VIA_PGBOUNCER=1 (see own-pgbouncer.ts)
      DATABASE_URL: db === 'postgres' ? await runDatabaseUrl(PG_URL, schema!) : join(dir, 'db.sqlite'),
      ...(schema ? { DATABASE_SCHEMA: schema } : {}),
      FIRST_INSTANCE_PAT_PATH: join(dir, 'admin.pat'),
      CODE_HMAC_KEY_FILE: join(dir, 'code-hmac.key'),
      HOST: '127.0.0.1',
      PORT: '0',
      GRPC_PORT: String(await freePort()),
      // the management listener is off unless a test asks for it (METRICS_PORT: String(await freePort()))
      METRICS_PORT: '0',
      ...env,
    };
    const logs: string[] = [];
    const logStream = new Writable({
      write(chunk: Buffer, _enc, done) {
        logs.push(...chunk.toString('utf8').split('\n').filter(Boolean));
        done();
      },
    });
    const clock = new TestClock();
    app = await createApp({ env: fullEnv, logStream, clock, phoneProviders });
    const management = await startServers(app);
    const adminToken = readFileSync(fullEnv.FIRST_INSTANCE_PAT_PATH, 'utf8').trim();
    const server = app.getHttpServer();
    const started = app;
    let closing: Promise<void> | undefined;
    return {
      db,
      app: started,
      http: () => request(server),
      adminToken,
      clock,
      logs,
      env: fullEnv,
      managementPort: management?.port,
      close() {
        closing ??= started.close().then(removeOwn);
        return closing;
      },
    };
  } catch (error) {
    // a half-started app would keep jest from exiting
    await app?.close().catch(() => undefined);
    await removeOwn().catch(() => undefined);
    throw error;
  }
}

export const bearer = (token: string) => ({ Authorization: `Bearer ${token}` });

/** Grants roles directly (the API has no member-management method); scope = organization id or 'instance'. */
export async function grantRoles(t: TestApp, userId: string, scope: string, roles: Role[]): Promise<void> {
  const orgs = t.app.get(OrganizationsService);
  await t.app.get(Database).transaction((tx) => orgs.grantRoles(tx, userId, scope, roles));
}

export function dataSourceOf(t: TestApp): DataSource {
  return t.app.get(DataSource);
}
