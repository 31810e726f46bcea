import { ChildProcess, execFileSync, spawn } from 'node:child_process';
import {
  appendFileSync,
  chmodSync,
  chownSync,
  existsSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from 'pg';
import { freePort } from './free-port';
import { sleep } from './wait';

/**
 * A PgBouncer of the test's own (Debian's /usr/sbin/pgbouncer, 1.18 on the CI image) in front of
 * a PostgreSQL, in transaction mode: each transaction may get another server connection, as
 * behind a transaction pooler in production. It runs in the foreground as a child process, with
 * its configuration, pid and log files in a temp folder; `close()` stops it and removes the folder.
 *
 * Clients log in without a password (`auth_type = any`): PgBouncer logs into PostgreSQL as the
 * server URL's user, with its password, whatever user a client names.
 *
 * PgBouncer 1.18 refuses a client whose startup packet carries a parameter it does not track
 * (`unsupported startup parameter`): the app's `statement_timeout` and, with DATABASE_SCHEMA,
 * `options` (`-c search_path=…`). Listed in `ignoreStartupParameters` they are accepted and
 * dropped; a database's `connectQuery` can then set them on each of its server connections.
 */

const PGBOUNCER = process.env.PGBOUNCER_BIN ?? '/usr/sbin/pgbouncer';

/** A database as clients name it when connecting to PgBouncer. */
export interface BouncerDatabase {
  /** the server's database; the server URL's by default */
  dbname?: string;
  /** run on each new server connection of this database (`SET search_path …; SET statement_timeout …`) */
  connectQuery?: string;
  /** this database's server connections, instead of the default pool size */
  poolSize?: number;
}

export interface PgBouncerOptions {
  /** the PostgreSQL to pool: `postgres://user[:password]@host:port/db` */
  server: string;
  /** databases by the names clients use; by default one, named as the server URL's */
  databases?: Record<string, BouncerDatabase>;
  /** server connections per database (`default_pool_size`); small, so that transactions change connections */
  poolSize?: number;
  /** startup parameters accepted and dropped (`ignore_startup_parameters`) */
  ignoreStartupParameters?: string[];
  /** how long an unused server connection stays open (`server_idle_timeout`, seconds) */
  serverIdleTimeout?: number;
}

/** What a test file needs to add databases to a PgBouncer that global-setup started (jest loads them apart). */
export interface PgBouncerHandle {
  port: number;
  dir: string;
  server: string;
}

/** `'…'` for a value of a PgBouncer connection string (a quote inside doubled). */
const quoted = (value: string) => `'${value.replace(/'/g, "''")}'`;

/** The [databases] line for `name`. */
function databaseLine(server: URL, name: string, db: BouncerDatabase): string {
  const password = decodeURIComponent(server.password);
  const settings = [
    `host=${server.hostname}`,
    `port=${server.port || '5432'}`,
    `dbname=${db.dbname ?? serverDatabase(server)}`,
    `user=${serverUser(server)}`,
    ...(password ? [`password=${quoted(password)}`] : []),
    ...(db.poolSize ? [`pool_size=${db.poolSize}`] : []),
    ...(db.connectQuery ? [`connect_query=${quoted(db.connectQuery)}`] : []),
  ];
  return `${name} = ${settings.join(' ')}\n`;
}

const serverUser = (server: URL) => decodeURIComponent(server.username) || 'postgres';
const serverDatabase = (server: URL) => decodeURIComponent(server.pathname.slice(1)) || serverUser(server);

export class OwnPgBouncer {
  private constructor(
    readonly handle: PgBouncerHandle,
    private readonly child?: ChildProcess,
  ) {}

  get port(): number {
    return this.handle.port;
  }

  /** The URL a client connects to one of its databases with. */
  url(database: string): string {
    const user = encodeURIComponent(serverUser(new URL(this.handle.server)));
    return `postgres://${user}@127.0.0.1:${this.port}/${encodeURIComponent(database)}`;
  }

  static async start(options: PgBouncerOptions): Promise<OwnPgBouncer> {
    if (!existsSync(PGBOUNCER)) {
      throw new Error(
        `the PgBouncer tests need ${PGBOUNCER}: install it with \`apt-get install pgbouncer\` (Debian/Ubuntu)`,
      );
    }
    const server = new URL(options.server);
    const dir = mkdtempSync(join(tmpdir(), 'pv-pgbouncer-'));
    const port = await freePort();
    const databasesFile = join(dir, 'databases.ini');
    const databases = options.databases ?? { [serverDatabase(server)]: {} };
    writeFileSync(
      databasesFile,
      Object.entries(databases)
        .map(([name, db]) => databaseLine(server, name, db))
        .join(''),
    );
    const config = [
      '[databases]',
      // addDatabase appends here and reloads
      `%include ${databasesFile}`,
      '[pgbouncer]',
      'listen_addr = 127.0.0.1',
      `listen_port = ${port}`,
      // TCP only: no socket file in /tmp
      'unix_socket_dir =',
      'auth_type = any',
      // the admin console's user (RELOAD, SHOW …)
      'admin_users = pgbouncer',
      'pool_mode = transaction',
      `default_pool_size = ${options.poolSize ?? 3}`,
      'reserve_pool_size = 0',
      'max_client_conn = 500',
      `ignore_startup_parameters = ${(options.ignoreStartupParameters ?? []).join(',')}`,
      `server_idle_timeout = ${options.serverIdleTimeout ?? 600}`,
      `logfile = ${join(dir, 'pgbouncer.log')}`,
      `pidfile = ${join(dir, 'pgbouncer.pid')}`,
      'log_stats = 0',
    ];
    writeFileSync(join(dir, 'pgbouncer.ini'), `${config.join('\n')}\n`);
    // PgBouncer refuses to run as root: it runs as `postgres` then, and writes its log and pid file here
    const asRoot = process.getuid?.() === 0;
    if (asRoot) {
      chmodSync(dir, 0o755);
      const uid = Number(execFileSync('id', ['-u', 'postgres'], { encoding: 'utf8' }).trim());
      const gid = Number(execFileSync('id', ['-g', 'postgres'], { encoding: 'utf8' }).trim());
      chownSync(dir, uid, gid);
    }
    const child = spawn(PGBOUNCER, [...(asRoot ? ['-u', 'postgres'] : []), join(dir, 'pgbouncer.ini')], {
      stdio: 'ignore',
    });
    // a binary that cannot run shows as no answer in ready(), not as an uncaught error
    child.on('error', () => undefined);
    const bouncer = new OwnPgBouncer({ port, dir, server: options.server }, child);
    try {
      await bouncer.ready();
    } catch (error) {
      await bouncer.close();
      throw error;
    }
    return bouncer;
  }

  /** A PgBouncer global-setup started (see PgBouncerHandle): it can add databases, not stop it. */
  static attach(handle: PgBouncerHandle): OwnPgBouncer {
    return new OwnPgBouncer(handle);
  }

  /** Adds a database unless it has one of that name (RELOAD reads it at once); returns its URL. */
  async addDatabase(name: string, db: BouncerDatabase): Promise<string> {
    const file = join(this.handle.dir, 'databases.ini');
    const known = readFileSync(file, 'utf8').split('\n');
    if (!known.some((line) => line.startsWith(`${name} = `))) {
      appendFileSync(file, databaseLine(new URL(this.handle.server), name, db));
      await this.admin('RELOAD');
    }
    return this.url(name);
  }

  /** Its log so far (connections, errors), for a failure's message. */
  log(): string {
    try {
      return readFileSync(join(this.handle.dir, 'pgbouncer.log'), 'utf8');
    } catch {
      return '';
    }
  }

  /** Waits (at most 30 s) until the admin console answers. */
  private async ready(): Promise<void> {
    const child = this.child!;
    const deadline = Date.now() + 30_000;
    let last: unknown;
    while (Date.now() < deadline) {
      if (child.exitCode !== null || child.signalCode !== null) {
        throw new Error(`pgbouncer exited (${child.exitCode ?? child.signalCode}):\n${this.log()}`);
      }
      try {
        await this.admin('SHOW VERSION');
        return;
      } catch (error) {
        last = error;
        await sleep(100);
      }
    }
    throw new Error(`pgbouncer did not answer within 30 s (${String(last)}):\n${this.log()}`);
  }

  /**
   * A command of PgBouncer's admin console (`SHOW SERVERS`, `SHOW POOLS`, `RELOAD` …): its rows.
   * Clients log in to it as `pgbouncer`, its admin user.
   */
  async admin(command: string): Promise<Record<string, unknown>[]> {
    const client = new Client({
      host: '127.0.0.1',
      port: this.port,
      user: 'pgbouncer',
      database: 'pgbouncer',
      connectionTimeoutMillis: 2_000,
    });
    await client.connect();
    try {
      // the console speaks the simple query protocol only: a query without parameters uses it
      return (await client.query(command)).rows as Record<string, unknown>[];
    } finally {
      await client.end().catch(() => undefined);
    }
  }

  /** Stops PgBouncer (SIGTERM: at once, connections dropped) and removes its folder; attached: nothing. */
  async close(): Promise<void> {
    const child = this.child;
    if (!child) return;
    if (child.exitCode === null && child.signalCode === null) {
      const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
      child.kill('SIGTERM');
      const forced = setTimeout(() => child.kill('SIGKILL'), 5_000);
      await exited;
      clearTimeout(forced);
    }
    rmSync(this.handle.dir, { recursive: true, force: true });
  }
}

/** Set by global-setup when TEST_PG_VIA_PGBOUNCER=1: the run's PgBouncer (a PgBouncerHandle as JSON). */
const RUN_PGBOUNCER = 'TEST_PGBOUNCER';

/**
 * With TEST_PG_VIA_PGBOUNCER=1, global-setup puts a PgBouncer (transaction mode) in front of the
 * run's PostgreSQL: the apps the tests start reach it through there, the tests' own clients
 * (DDL, checks of rows) reach it directly. PgBouncer 1.18 drops the app's `options` (its
 * search_path) and `statement_timeout`, so each schema becomes a PgBouncer database of its own
 * whose server connections set them.
 */
export async function startRunPgBouncer(server: string): Promise<OwnPgBouncer | undefined> {
  if (process.env.TEST_PG_VIA_PGBOUNCER !== '1') return undefined;
  const bouncer = await OwnPgBouncer.start({
    server,
    databases: {},
    ignoreStartupParameters: ['statement_timeout', 'options'],
    // each schema's pool goes soon after its suite: the server's max_connections is not reached
    serverIdleTimeout: 10,
  });
  process.env[RUN_PGBOUNCER] = JSON.stringify(bouncer.handle);
  return bouncer;
}

/** The DATABASE_URL an app on `schema` of the run's PostgreSQL gets: `url`, or through the run's PgBouncer. */
export async function runDatabaseUrl(url: string, schema: string): Promise<string> {
  const handle = process.env[RUN_PGBOUNCER];
  if (!handle) return url;
  return OwnPgBouncer.attach(JSON.parse(handle) as PgBouncerHandle).addDatabase(schema, {
    // the app's default DATABASE_STATEMENT_TIMEOUT
    connectQuery: `SET search_path TO "${schema}"; SET statement_timeout = '1s'`,
  });
}
