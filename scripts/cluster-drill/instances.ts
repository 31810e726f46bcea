import { ChildProcess, spawn } from 'node:child_process';
import {
  appendFileSync,
  closeSync,
  cpSync,
  mkdirSync,
  openSync,
  readFileSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { httpJson } from './http';

/** A tree that `node dist/src/main.js` runs from: the checkout, or the copy with one more migration. */
export interface Build {
  name: 'old' | 'new';
  root: string;
}

/** What the "new build"'s migration adds, for the checks. */
export interface Upgrade {
  migration: string;
  table: string;
  column: string;
  index: string;
}

/**
 * The next release without touching src/: a copy of the built dist/ with one more compiled
 * migration (a nullable column and an index on users), appended to the copy's MIGRATIONS list;
 * node_modules and proto/ are links to the checkout's. The product gets no test hook: the new
 * instances run a build that differs from the old one exactly as a release with that migration would.
 */
export function prepareNewBuild(root: string, dir: string): { build: Build; upgrade: Upgrade } {
  const copy = join(dir, 'new-build');
  mkdirSync(copy);
  cpSync(join(root, 'dist'), join(copy, 'dist'), { recursive: true });
  for (const shared of ['node_modules', 'proto', 'package.json']) symlinkSync(join(root, shared), join(copy, shared));
  // TypeORM reads a migration's timestamp from the end of its name: later than every real one
  const timestamp = Date.now();
  const upgrade: Upgrade = {
    migration: `DrillUpgrade${timestamp}`,
    table: 'users',
    column: 'drill_tier',
    index: 'IDX_users_drill_tier',
  };
  const migrations = join(copy, 'dist/src/database/migrations');
  const file = `${timestamp}-DrillUpgrade`;
  writeFileSync(
    join(migrations, `${file}.js`),
    `"use strict";
Object.defineProperty(exports, "__esModule", { value: true });
class ${upgrade.migration} {
  name = '${upgrade.migration}';
  async up(q) {
    await q.query('ALTER TABLE ${upgrade.table} ADD COLUMN ${upgrade.column} varchar(16)');
    // rolling-upgrade: the drill's users table is small; a real one is indexed CONCURRENTLY beforehand
    await q.query('CREATE INDEX IF NOT EXISTS "${upgrade.index}" ON ${upgrade.table} (${upgrade.column})');
  }
  async down(q) {
    await q.query('DROP INDEX IF EXISTS "${upgrade.index}"');
    await q.query('ALTER TABLE ${upgrade.table} DROP COLUMN ${upgrade.column}');
  }
}
exports.${upgrade.migration} = ${upgrade.migration};
`,
  );
  const index = join(migrations, 'index.js');
  if (!/exports\.MIGRATIONS = \[/.test(readFileSync(index, 'utf8'))) {
    throw new Error(`${index} no longer exports a MIGRATIONS array: the drill cannot add its migration`);
  }
  appendFileSync(index, `\nexports.MIGRATIONS.push(require('./${file}').${upgrade.migration});\n`);
  return { build: { name: 'new', root: copy }, upgrade };
}

export interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

/** One life of an instance: a process of one build, its log file and how it ended. */
export interface Life {
  build: Build['name'];
  pid: number;
  logFile: string;
  startedAt: number;
  readyAt?: number;
  stopAt?: number;
  exit?: Exit;
  exitedAt?: number;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * One member of the cluster: the same ports and settings through every restart, as an
 * orchestrator's slot; each start is a new process (a life) of the build it is given.
 */
export class Instance {
  readonly lives: Life[] = [];
  private child?: ChildProcess;
  private exited?: Promise<Exit>;

  constructor(
    readonly index: number,
    readonly port: number,
    readonly metricsPort: number,
    private readonly env: Record<string, string>,
    private readonly logDir: string,
    /** settings of one life: `life` counts this instance's starts from 0 */
    private readonly lifeEnv: (life: number) => Record<string, string> = () => ({}),
  ) {}

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  get current(): Life | undefined {
    return this.lives.at(-1);
  }

  get running(): boolean {
    return this.current !== undefined && this.current.exit === undefined;
  }

  /** Starts a process of `build` and waits until its /readyz answers 200. */
  async start(build: Build, timeoutMs = 180_000): Promise<Life> {
    if (this.running) throw new Error(`instance ${this.index} is already running`);
    const logFile = join(this.logDir, `instance-${this.index}-life-${this.lives.length}-${build.name}.log`);
    const fd = openSync(logFile, 'a');
    const child = spawn(process.execPath, [join(build.root, 'dist/src/main.js')], {
      cwd: build.root,
      env: {
        ...this.env,
        ...this.lifeEnv(this.lives.length),
        PORT: String(this.port),
        METRICS_PORT: String(this.metricsPort),
      },
      stdio: ['ignore', fd, fd],
    });
    closeSync(fd);
    if (child.pid === undefined) throw new Error(`instance ${this.index} could not be started`);
    const life: Life = { build: build.name, pid: child.pid, logFile, startedAt: Date.now() };
    this.lives.push(life);
    this.child = child;
    this.exited = new Promise((resolve) =>
      child.once('exit', (code, signal) => {
        life.exit = { code, signal };
        life.exitedAt = Date.now();
        resolve(life.exit);
      }),
    );
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      if (life.exit) throw new Error(`instance ${this.index} exited before it was ready:\n${tail(logFile)}`);
      const ready = await httpJson(`http://127.0.0.1:${this.metricsPort}/readyz`, { timeoutMs: 5_000 }).catch(
        () => undefined,
      );
      if (ready?.status === 200) {
        life.readyAt = Date.now();
        return life;
      }
      await sleep(100);
    }
    throw new Error(`instance ${this.index} not ready within ${timeoutMs} ms:\n${tail(logFile)}`);
  }

  /** SIGKILL: the process ends at once, in the middle of whatever it was doing. */
  async kill(): Promise<Exit> {
    return this.signal('SIGKILL', 30_000);
  }

  /** SIGTERM and the wait for the exit, as an orchestrator's stop; SIGKILL after `graceMs`. */
  async stop(graceMs = 30_000): Promise<Exit> {
    return this.signal('SIGTERM', graceMs);
  }

  /** The JSON log records of every life. */
  records(): Array<Record<string, any> & { life: number }> {
    return this.lives.flatMap((life, i) =>
      readFileSync(life.logFile, 'utf8')
        .split('\n')
        .flatMap((line) => {
          try {
            const parsed: unknown = JSON.parse(line);
            return typeof parsed === 'object' && parsed !== null
              ? [{ ...(parsed as Record<string, any>), life: i }]
              : [];
          } catch {
            return [];
          }
        }),
    );
  }

  private async signal(signal: NodeJS.Signals, graceMs: number): Promise<Exit> {
    const life = this.current;
    if (!life || !this.child || !this.exited) throw new Error(`instance ${this.index} was never started`);
    if (life.exit) return life.exit;
    life.stopAt = Date.now();
    this.child.kill(signal);
    const timer = setTimeout(() => this.child?.kill('SIGKILL'), graceMs);
    try {
      return await this.exited;
    } finally {
      clearTimeout(timer);
    }
  }
}

function tail(file: string, lines = 30): string {
  try {
    return readFileSync(file, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    return '(no log)';
  }
}
