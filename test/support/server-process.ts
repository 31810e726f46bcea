import { ChildProcess, execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sleep, until } from './wait';
import { freePort } from './test-app';

export const ROOT = join(__dirname, '..', '..');

/** Builds dist/ when it is missing or older than the sources (what `npm start` does first). */
export function buildIfNeeded(): void {
  execFileSync(process.execPath, [join(ROOT, 'scripts/build-if-needed.js')], { cwd: ROOT, stdio: 'ignore' });
}

/** Settings for a server of a test's own: a fresh SQLite file and token path, free ports, loopback only. */
export async function serverEnv(extra: Record<string, string> = {}): Promise<{
  env: Record<string, string>;
  dir: string;
  port: number;
  grpcPort: number;
}> {
  const dir = mkdtempSync(join(tmpdir(), 'pv-proc-'));
  const port = await freePort();
  const grpcPort = await freePort();
  const env: Record<string, string> = {
    PATH: process.env.PATH ?? '/usr/bin:/bin',
    HOME: process.env.HOME ?? dir,
    NODE_ENV: 'test',
    LOG_LEVEL: 'info',
    HOST: '127.0.0.1',
    PORT: String(port),
    GRPC_PORT: String(grpcPort),
    DATABASE_URL: join(dir, 'db.sqlite'),
    FIRST_INSTANCE_PAT_PATH: join(dir, 'admin.pat'),
    CODE_HMAC_KEY_FILE: join(dir, 'code-hmac.key'),
    SMS_PROVIDER: 'none',
    THROTTLE_LIMIT: '0',
    // the management listener only where a test asks for it (9464 would be shared by every process)
    METRICS_PORT: '0',
    // no .env of the checkout's: a test sets what it means to
    ENV_FILE: '',
    ...extra,
  };
  return { env, dir, port, grpcPort };
}

/** A process a test started, its output as lines, and a way to make sure it is gone. */
export class ServerProcess {
  readonly lines: string[] = [];
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  exitedAt?: number;
  private readonly child: ChildProcess;

  /** `options`: another working folder than the checkout, another user (uid, gid). */
  constructor(
    command: string,
    args: string[],
    env: Record<string, string>,
    options: { cwd?: string; uid?: number; gid?: number } = {},
  ) {
    this.child = spawn(command, args, { cwd: ROOT, ...options, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let partial = '';
    const collect = (chunk: Buffer) => {
      const text = partial + chunk.toString('utf8');
      const parts = text.split('\n');
      partial = parts.pop() ?? '';
      this.lines.push(...parts.filter(Boolean));
    };
    this.child.stdout!.on('data', collect);
    this.child.stderr!.on('data', collect);
    // 'close': the process has ended and its output is all read
    this.exited = new Promise((resolve) =>
      this.child.once('close', (code, signal) => {
        this.exitedAt = Date.now();
        if (partial) this.lines.push(partial);
        resolve({ code, signal });
      }),
    );
  }

  get pid(): number {
    return this.child.pid!;
  }

  /** The output lines that are JSON log records. */
  records(): Array<Record<string, any>> {
    return this.lines.flatMap((line) => {
      try {
        const parsed: unknown = JSON.parse(line);
        return typeof parsed === 'object' && parsed !== null ? [parsed as Record<string, any>] : [];
      } catch {
        return [];
      }
    });
  }

  /** The first log record `match` accepts, waiting up to `timeoutMs`; fails early if the process exits. */
  async record(what: string, match: (r: Record<string, any>) => boolean, timeoutMs = 120_000) {
    let gone = false;
    void this.exited.then(() => (gone = true));
    return until(
      what,
      () => {
        const found = this.records().find(match);
        if (!found && gone) throw new Error(`exited before ${what}; output:\n${this.lines.slice(-30).join('\n')}`);
        return found;
      },
      timeoutMs,
    );
  }

  signal(signal: NodeJS.Signals): void {
    this.child.kill(signal);
  }

  /** Its exit, within `timeoutMs`. */
  async exit(timeoutMs = 60_000): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
    await until('the process to exit', () => this.exitedAt !== undefined, timeoutMs);
    return this.exited;
  }

  /** SIGKILL when still running (afterAll, also after a failed test). */
  async kill(): Promise<void> {
    if (this.exitedAt === undefined && this.child.exitCode === null && this.child.signalCode === null) {
      this.child.kill('SIGKILL');
      await Promise.race([this.exited, sleep(5_000)]);
    }
  }
}

/** Whether a process is gone (a zombie waiting for its parent counts as gone: it serves nothing). */
export function processGone(pid: number): boolean {
  const stat = `/proc/${pid}/stat`;
  if (!existsSync(stat)) return true;
  try {
    return /^\d+ \(.*\) Z/.test(readFileSync(stat, 'utf8'));
  } catch {
    return true;
  }
}

/** SIGKILL to a pid of ours that may still be running. */
export function killIfRunning(pid: number | undefined): void {
  if (pid === undefined || processGone(pid)) return;
  try {
    process.kill(pid, 'SIGKILL');
  } catch {
    // gone meanwhile
  }
}

/** Whether nothing accepts connections on 127.0.0.1:port. */
export function portClosed(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      resolve(false);
    });
    socket.once('error', () => resolve(true));
  });
}

export function removeDir(dir: string | undefined): void {
  if (dir) rmSync(dir, { recursive: true, force: true });
}
