import { spawnSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from './free-port';
import { infoFields, OwnRedisProcesses } from './own-redis-processes';
import { orNotYet, until } from './wait';

/**
 * A Redis Cluster of the test's own, on loopback: three primaries with a replica each, made by
 * `redis-cli --cluster create`; a replica takes over 1 s after its primary stops answering
 * (cluster-node-timeout). Every node asks for a password, as a deployment's would. The machine's
 * shared Redis is never touched; `stop()` kills every process started here.
 */
export const PASSWORD = 'cluster-pw';
const NODE_TIMEOUT_MS = 1_000;
const NODES = 6;

interface NodeLine {
  id: string;
  port: number;
  flags: string[];
  /** the primary's id, for a replica */
  primaryId?: string;
  slots: Array<[number, number]>;
}

export class OwnRedisCluster extends OwnRedisProcesses {
  private constructor(
    dir: string,
    readonly ports: number[],
  ) {
    super(dir, PASSWORD);
  }

  /** REDIS_URL for the app: two of the nodes as the seed list, and the password. */
  get url(): string {
    return `redis+cluster://:${PASSWORD}@127.0.0.1:${this.ports[0]},127.0.0.1:${this.ports[1]}`;
  }

  static async start(): Promise<OwnRedisCluster> {
    const dir = mkdtempSync(join(tmpdir(), 'pv-cluster-'));
    const ports: number[] = [];
    const busPorts: number[] = [];
    for (let i = 0; i < NODES; i++) {
      ports.push(await freePort());
      busPorts.push(await freePort());
    }
    const cluster = new OwnRedisCluster(dir, ports);
    try {
      ports.forEach((port, i) => cluster.spawn(port, busPorts[i]));
      for (const port of ports) {
        await until(
          `redis-server on ${port}`,
          orNotYet(async () => (await cluster.ask(port, 'PING')) === 'PONG'),
          30_000,
          100,
        );
      }
      const create = spawnSync(
        'redis-cli',
        ['-a', PASSWORD, '--no-auth-warning', '--cluster', 'create', ...ports.map((p) => `127.0.0.1:${p}`)].concat([
          '--cluster-replicas',
          '1',
          '--cluster-yes',
        ]),
        { encoding: 'utf8', timeout: 60_000 },
      );
      if (create.status !== 0) throw new Error(`redis-cli --cluster create failed: ${create.stdout}${create.stderr}`);
      await until(
        'every node seeing the cluster ok and every replica in sync',
        orNotYet(() => cluster.healthy(ports)),
        60_000,
        100,
      );
      return cluster;
    } catch (error) {
      await cluster.stop();
      throw error;
    }
  }

  /** A node; its cluster bus on a port of its own (by default port + 10000, which may be taken or past 65535). */
  private spawn(port: number, busPort: number): void {
    const args = ['--bind', '127.0.0.1', '--port', String(port), '--save', '', '--appendonly', 'no'];
    args.push('--dir', this.dir, '--cluster-enabled', 'yes', '--cluster-config-file', `nodes-${port}.conf`);
    args.push('--cluster-port', String(busPort));
    args.push('--cluster-node-timeout', String(NODE_TIMEOUT_MS), '--requirepass', PASSWORD, '--masterauth', PASSWORD);
    this.spawnServer(port, args);
  }

  /** Every node of `ports` says cluster_state:ok, and every replica among them has its link up. */
  async healthy(ports: number[]): Promise<boolean> {
    for (const port of ports) {
      if (infoFields(await this.ask(port, 'CLUSTER', 'INFO')).cluster_state !== 'ok') return false;
      const replication = infoFields(await this.ask(port, 'INFO', 'replication'));
      if (replication.role === 'slave' && replication.master_link_status !== 'up') return false;
    }
    return true;
  }

  /** CLUSTER NODES as `asked` sees it. */
  async nodes(asked: number): Promise<NodeLine[]> {
    const text = String(await this.ask(asked, 'CLUSTER', 'NODES'));
    return text
      .trim()
      .split('\n')
      .map((line) => {
        const [id, address, flags, primary, , , , , ...slots] = line.split(' ');
        return {
          id,
          port: Number(/:(\d+)@/.exec(address)![1]),
          flags: flags.split(','),
          primaryId: primary === '-' ? undefined : primary,
          slots: slots
            .filter((range) => /^\d/.test(range))
            .map((range) => {
              const [from, to] = range.split('-').map(Number);
              return [from, to ?? from] as [number, number];
            }),
        };
      });
  }

  /** The ports of the primary that holds `key`'s slot and of its replica (if it has one), as `asked` sees them. */
  async holderOf(key: string, asked = this.ports[0]): Promise<{ primary: number; replica?: number }> {
    const slot = Number(await this.ask(asked, 'CLUSTER', 'KEYSLOT', key));
    const nodes = await this.nodes(asked);
    const primary = nodes.find(
      (n) =>
        n.flags.includes('master') && !n.flags.includes('fail') && n.slots.some(([a, b]) => a <= slot && slot <= b),
    );
    const replica = nodes.find((n) => n.primaryId === primary?.id && !n.flags.includes('fail'));
    if (!primary) throw new Error(`no primary holds slot ${slot}`);
    return { primary: primary.port, replica: replica?.port };
  }
}
