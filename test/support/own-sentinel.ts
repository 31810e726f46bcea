import { Redis } from 'ioredis';
import { ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from './free-port';
import { exited, orNotYet, until } from './wait';

/**
 * A Sentinel set of the test's own, on loopback: a primary, one replica (`replicaof`) and three
 * sentinels (quorum 2) that fail over 1 s after the primary stops answering. Every server asks
 * for a password (`PASSWORD`; the sentinels `SENTINEL_PASSWORD`), as a deployment's would.
 * The machine's shared Redis is never touched; `stop()` kills every process started here.
 */
export const MASTER_NAME = 'pv-master';
export const PASSWORD = 'data-pw';
export const SENTINEL_PASSWORD = 'sentinel-pw';
const DOWN_AFTER_MS = 1_000;
const FAILOVER_TIMEOUT_MS = 10_000;

/** One command on a connection of its own, closed after it (a server may drop its clients in a failover). */
export async function ask(port: number, password: string, args: string[]): Promise<unknown> {
  const client = new Redis({
    host: '127.0.0.1',
    port,
    password,
    lazyConnect: true,
    connectTimeout: 2_000,
    commandTimeout: 5_000,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
    enableOfflineQueue: false,
  });
  client.on('error', () => undefined);
  try {
    await client.connect();
    return await client.call(args[0], ...args.slice(1));
  } finally {
    client.disconnect();
  }
}

/** "key:value" lines of INFO as an object. */
export function infoFields(text: unknown): Record<string, string> {
  const fields: Record<string, string> = {};
  for (const line of String(text).split('\r\n')) {
    const colon = line.indexOf(':');
    if (colon > 0) fields[line.slice(0, colon)] = line.slice(colon + 1);
  }
  return fields;
}

/** A SENTINEL reply of flat key/value arrays as an object. */
function pairs(reply: unknown): Record<string, string> {
  const list = reply as string[];
  const result: Record<string, string> = {};
  for (let i = 0; i + 1 < list.length; i += 2) result[list[i]] = list[i + 1];
  return result;
}

export class OwnSentinelSet {
  private readonly children = new Map<number, ChildProcess>();

  private constructor(
    private readonly dir: string,
    /** the ports of the two data servers: [0] starts as the primary, [1] as its replica */
    readonly dataPorts: [number, number],
    readonly sentinelPorts: number[],
  ) {}

  /** REDIS_URL for the app: every sentinel, the master's name and both passwords. */
  get url(): string {
    const sentinels = this.sentinelPorts.map((port) => `127.0.0.1:${port}`).join(',');
    return `redis+sentinel://:${PASSWORD}@${sentinels}/${MASTER_NAME}?sentinelPassword=${SENTINEL_PASSWORD}`;
  }

  static async start(): Promise<OwnSentinelSet> {
    const dir = mkdtempSync(join(tmpdir(), 'pv-sentinel-'));
    const ports = [] as number[];
    for (let i = 0; i < 5; i++) ports.push(await freePort());
    const set = new OwnSentinelSet(dir, [ports[0], ports[1]], ports.slice(2));
    try {
      await set.startData(ports[0]);
      await set.startData(ports[1], ports[0]);
      await until(
        'the replica in sync',
        orNotYet(async () => (await set.replication(ports[1])).master_link_status === 'up'),
        30_000,
        100,
      );
      for (const port of set.sentinelPorts) set.startSentinel(port, ports[0]);
      await set.untilWatching(ports[0], ports[1]);
      return set;
    } catch (error) {
      await set.stop();
      throw error;
    }
  }

  /** A data server; with `primary`, its replica. */
  private async startData(port: number, primary?: number): Promise<void> {
    const args = ['--bind', '127.0.0.1', '--port', String(port), '--save', '', '--appendonly', 'no', '--dir', this.dir];
    args.push('--requirepass', PASSWORD, '--masterauth', PASSWORD);
    if (primary) args.push('--replicaof', '127.0.0.1', String(primary));
    this.spawn(port, args);
    await until(
      `redis-server on ${port}`,
      orNotYet(async () => (await ask(port, PASSWORD, ['PING'])) === 'PONG'),
      30_000,
      100,
    );
  }

  private startSentinel(port: number, primary: number): void {
    const file = join(this.dir, `sentinel-${port}.conf`);
    writeFileSync(
      file,
      [
        'bind 127.0.0.1',
        `port ${port}`,
        `dir ${this.dir}`,
        `requirepass ${SENTINEL_PASSWORD}`,
        // the sentinels ask each other for votes with the same password
        `sentinel sentinel-pass ${SENTINEL_PASSWORD}`,
        `sentinel monitor ${MASTER_NAME} 127.0.0.1 ${primary} 2`,
        `sentinel auth-pass ${MASTER_NAME} ${PASSWORD}`,
        `sentinel down-after-milliseconds ${MASTER_NAME} ${DOWN_AFTER_MS}`,
        `sentinel failover-timeout ${MASTER_NAME} ${FAILOVER_TIMEOUT_MS}`,
        '',
      ].join('\n'),
    );
    this.spawn(port, [file, '--sentinel']);
  }

  private spawn(port: number, args: string[]): void {
    const child = spawn('redis-server', args, { stdio: 'ignore' });
    child.once('error', () => undefined); // a server that did not start fails the wait for it
    child.once('exit', () => {
      if (this.children.get(port) === child) this.children.delete(port);
    });
    this.children.set(port, child);
  }

  /** INFO replication of a data server. */
  async replication(port: number): Promise<Record<string, string>> {
    return infoFields(await ask(port, PASSWORD, ['INFO', 'replication']));
  }

  /** The primary's port as each sentinel (of `sentinels`, all by default) names it. */
  async primaryPerSentinel(sentinels = this.sentinelPorts): Promise<number[]> {
    return Promise.all(
      sentinels.map(async (port) => {
        const reply = (await ask(port, SENTINEL_PASSWORD, ['SENTINEL', 'get-master-addr-by-name', MASTER_NAME])) as
          string[] | null;
        return Number(reply?.[1]);
      }),
    );
  }

  /**
   * Until every sentinel watches `primary`, knows the two other sentinels and sees `replica` in
   * sync: only then can they agree on a failover.
   */
  async untilWatching(primary: number, replica: number): Promise<void> {
    await until(
      'the sentinels watching the primary and its replica',
      orNotYet(async () => {
        for (const port of this.sentinelPorts) {
          const master = pairs(await ask(port, SENTINEL_PASSWORD, ['SENTINEL', 'master', MASTER_NAME]));
          if (Number(master.port) !== primary || master.flags !== 'master') return false;
          if (master['num-other-sentinels'] !== '2') return false;
          const replicas = (
            (await ask(port, SENTINEL_PASSWORD, ['SENTINEL', 'replicas', MASTER_NAME])) as unknown[]
          ).map(pairs);
          const ok = replicas.some(
            (r) => Number(r.port) === replica && r.flags === 'slave' && r['master-link-status'] === 'ok',
          );
          if (!ok) return false;
        }
        return true;
      }),
      60_000,
      100,
    );
  }

  /**
   * Holds every write on the primary (the writes in flight wait), then waits until the replica has
   * every write acknowledged so far: a failover after this loses nothing that was answered.
   * Answers how many replicas acknowledged (1 expected).
   */
  async holdWritesAndSync(port: number): Promise<number> {
    const client = new Redis({
      host: '127.0.0.1',
      port,
      password: PASSWORD,
      lazyConnect: true,
      maxRetriesPerRequest: 0,
    });
    client.on('error', () => undefined);
    try {
      await client.connect();
      await client.call('CLIENT', 'PAUSE', String(60_000), 'WRITE');
      return Number(await client.call('WAIT', '1', '5000'));
    } finally {
      client.disconnect();
    }
  }

  /** SIGKILL: the server is gone at once, its clients' connections drop. */
  async kill(port: number): Promise<void> {
    const child = this.children.get(port);
    if (!child) throw new Error(`no server of ours on ${port}`);
    child.kill('SIGKILL');
    await exited(child);
  }

  /** SIGSTOP (a data server or a sentinel): it keeps its connections open and answers nothing. */
  freeze(port: number): void {
    const child = this.children.get(port);
    if (!child) throw new Error(`no server of ours on ${port}`);
    child.kill('SIGSTOP');
  }

  /** Kills every process started here (a frozen one too) and removes the folder. */
  async stop(): Promise<void> {
    const children = [...this.children.values()];
    for (const child of children) child.kill('SIGKILL');
    await Promise.all(children.map(exited));
    rmSync(this.dir, { recursive: true, force: true });
  }
}
