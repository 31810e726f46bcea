import { ChildProcess, spawn, SpawnOptions } from 'node:child_process';
import { closeSync, openSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
// the tests' helper: a port below the kernel's ephemeral range, which no outgoing connection takes
import { freePort } from '../../test/support/free-port';

export { freePort };

/**
 * Everything the bench starts, so that it is stopped again on success, on an error and on
 * Ctrl-C. Cleanups run in reverse order of registration.
 */
const cleanups: Array<{ name: string; run: () => Promise<void> }> = [];

export function onCleanup(name: string, run: () => Promise<void>): () => void {
  const entry = { name, run };
  cleanups.push(entry);
  return () => {
    const i = cleanups.indexOf(entry);
    if (i >= 0) cleanups.splice(i, 1);
  };
}

export async function cleanUpAll(): Promise<void> {
  while (cleanups.length > 0) {
    const entry = cleanups.pop()!;
    try {
      await entry.run();
    } catch (error) {
      process.stderr.write(`cleanup "${entry.name}" failed: ${String(error)}\n`);
    }
  }
}

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

export interface Child {
  name: string;
  process: ChildProcess;
  pid: number;
  logFile: string;
  exited: Promise<number | null>;
  /** SIGTERM (or the given signal), then SIGKILL after `graceMs`; resolves when it is gone. */
  stop(signal?: NodeJS.Signals, graceMs?: number): Promise<void>;
}

/**
 * Starts a child whose output goes to `logFile` (with an IPC channel when `ipc`); it is stopped by
 * cleanUpAll if still running.
 */
export function startChild(
  name: string,
  command: string,
  args: string[],
  options: SpawnOptions,
  logFile: string,
  ipc = false,
): Child {
  const fd = openSync(logFile, 'a');
  const child = spawn(command, args, { ...options, stdio: ['ignore', fd, fd, ...(ipc ? ['ipc' as const] : [])] });
  closeSync(fd);
  if (child.pid === undefined) throw new Error(`could not start ${name}`);
  let running = true;
  const exited = new Promise<number | null>((resolve) => {
    child.on('exit', (code) => {
      running = false;
      resolve(code);
    });
  });
  const stop = async (signal: NodeJS.Signals = 'SIGTERM', graceMs = 10_000) => {
    if (!running) return;
    child.kill(signal);
    const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
    await exited;
    clearTimeout(timer);
  };
  const forget = onCleanup(name, () => stop());
  void exited.then(forget);
  return { name, process: child, pid: child.pid, logFile, exited, stop };
}

/** Polls `check` until it resolves true; fails early when the child exits. */
export async function waitUntil(child: Child, what: string, check: () => Promise<boolean>, timeoutMs = 120_000) {
  const deadline = Date.now() + timeoutMs;
  let exitCode: number | null | undefined;
  void child.exited.then((code) => (exitCode = code));
  while (Date.now() < deadline) {
    if (exitCode !== undefined) {
      throw new Error(`${child.name} exited (${exitCode}) before ${what}; its log:\n${tail(child.logFile)}`);
    }
    if (await check().catch(() => false)) return;
    await sleep(100);
  }
  throw new Error(`${child.name}: no ${what} after ${timeoutMs / 1000} s; its log:\n${tail(child.logFile)}`);
}

export function tail(file: string, lines = 30): string {
  try {
    return readFileSync(file, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    return '(no log)';
  }
}

/** Resident memory of a process, from /proc (Linux), in bytes. */
function readStatus(pid: number): { rss: number; hwm: number } | undefined {
  try {
    const text = readFileSync(`/proc/${pid}/status`, 'utf8');
    const kb = (key: string) => Number(new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(text)?.[1] ?? NaN) * 1024;
    return { rss: kb('VmRSS'), hwm: kb('VmHWM') };
  } catch {
    return undefined;
  }
}

/**
 * Samples a process's RSS every 200 ms. `window()` starts a new measurement window: the peak of a
 * window is the larger of the highest sample and the kernel's own high-water mark (VmHWM), which
 * is reset at the start of each window through /proc/<pid>/clear_refs where the kernel allows it.
 */
export class RssSampler {
  private timer?: NodeJS.Timeout;
  private peak = 0;
  private overall = 0;
  private hwmReset = false;

  constructor(private readonly pid: number) {}

  start(): this {
    this.window();
    this.timer = setInterval(() => this.sample(), 200);
    this.timer.unref();
    return this;
  }

  window(): void {
    this.peak = 0;
    try {
      writeFileSync(`/proc/${this.pid}/clear_refs`, '5');
      this.hwmReset = true;
    } catch {
      this.hwmReset = false;
    }
    this.sample();
  }

  /** Peak RSS in bytes since the last window() (or start). */
  windowPeak(): number {
    this.sample();
    const status = readStatus(this.pid);
    const peak = Math.max(this.peak, this.hwmReset && status ? status.hwm : 0);
    this.overall = Math.max(this.overall, peak);
    return peak;
  }

  /** The highest RSS seen over the sampler's life. */
  lifetimePeak(): number {
    this.windowPeak();
    return this.overall;
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
  }

  private sample(): void {
    const status = readStatus(this.pid);
    if (status && Number.isFinite(status.rss)) {
      this.peak = Math.max(this.peak, status.rss);
      this.overall = Math.max(this.overall, status.rss);
    }
  }
}

/** Clock ticks per second of /proc/<pid>/stat's times (USER_HZ: 100 on every Linux that ships). */
const USER_HZ = 100;

/** CPU time (user + system) a process has used, in µs; undefined where /proc cannot tell. */
function cpuTimeUs(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // the fields after the command name, which is in parentheses and may itself contain spaces
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return ((Number(fields[11]) + Number(fields[12])) * 1e6) / USER_HZ;
  } catch {
    return undefined;
  }
}

/** CPU time of every PostgreSQL server process on the machine (its backends, WAL writer…), in µs. */
function postgresCpuTimeUs(): number | undefined {
  let total = 0;
  let found = false;
  let entries: string[];
  try {
    entries = readdirSync('/proc');
  } catch {
    return undefined;
  }
  for (const entry of entries) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (readFileSync(`/proc/${entry}/comm`, 'utf8').trim() !== 'postgres') continue;
    } catch {
      continue;
    }
    const us = cpuTimeUs(Number(entry));
    if (us === undefined) continue;
    total += us;
    found = true;
  }
  return found ? total : undefined;
}

/** CPU time per answer over a measured window: of one process and, optionally, of PostgreSQL. */
export class CpuWindow {
  private from?: { server?: number; db?: number };

  constructor(
    private readonly pid: number,
    private readonly withPostgres: boolean,
  ) {}

  start(): void {
    this.from = { server: cpuTimeUs(this.pid), db: this.withPostgres ? postgresCpuTimeUs() : undefined };
  }

  perAnswer(answers: number): { serverCpuUs?: number; dbCpuUs?: number } {
    const per = (before: number | undefined, after: number | undefined) =>
      before === undefined || after === undefined || answers === 0 ? undefined : (after - before) / answers;
    return {
      serverCpuUs: per(this.from?.server, cpuTimeUs(this.pid)),
      ...(this.withPostgres ? { dbCpuUs: per(this.from?.db, postgresCpuTimeUs()) } : {}),
    };
  }
}
