import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from './free-port';
import { ask, infoFields, OwnRedisProcesses } from './own-redis-processes';
import { orNotYet, until } from './wait';

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

/** A SENTINEL reply of flat key/value arrays as an object. */
function pairs(reply: unknown): Record<string, string> {
  const list = reply as string[];
  const result: Record<string, string> = {};
  for (let i = 0; i + 1 < list.length; i += 2) result[list[i]] = list[i + 1];
  return result;
}

export class OwnSentinelSet extends OwnRedisProcesses {
  private constructor(
    dir: string,
    /** the ports of the two data servers: [0] starts as the primary, [1] as its replica */
    readonly dataPorts: [number, number],
    readonly sentinelPorts: number[],
  ) {
    super(dir, PASSWORD);
  }

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
    this.spawnServer(port, args);
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
    this.spawnServer(port, [file, '--sentinel']);
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
}
