import { Redis } from 'ioredis';
import { ChildProcess, spawn } from 'node:child_process';
import { rmSync } from 'node:fs';
import { exited, until } from './wait';

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

/**
 * The redis-server processes of a test's own Sentinel set or Cluster, by port, in a folder of its
 * own: started, killed, frozen, and all stopped at the end. Data servers ask for `password`.
 */
export abstract class OwnRedisProcesses {
  private readonly children = new Map<number, ChildProcess>();

  protected constructor(
    protected readonly dir: string,
    private readonly password: string,
  ) {}

  /** A command to the data server on `port`. */
  ask(port: number, ...args: string[]): Promise<unknown> {
    return ask(port, this.password, args);
  }

  protected spawnServer(port: number, args: string[]): void {
    const child = spawn('redis-server', args, { stdio: 'ignore' });
    child.once('error', () => undefined); // a server that did not start fails the wait for it
    child.once('exit', () => {
      if (this.children.get(port) === child) this.children.delete(port);
    });
    this.children.set(port, child);
  }

  /**
   * Holds every write on `primary` (the writes in flight wait), then waits until `replica` has
   * applied the primary's whole replication stream: a failover after this loses nothing that was
   * answered. (WAIT would not do: it waits only for the writes of the connection that sends it.)
   */
  async holdWritesAndSync(primary: number, replica: number): Promise<void> {
    await this.ask(primary, 'CLIENT', 'PAUSE', String(60_000), 'WRITE');
    const offset = Number(infoFields(await this.ask(primary, 'INFO', 'replication')).master_repl_offset);
    await until(
      `the replica on ${replica} at the primary's offset ${offset}`,
      async () => Number(infoFields(await this.ask(replica, 'INFO', 'replication')).slave_repl_offset) >= offset,
      10_000,
    );
  }

  /** SIGKILL: the server is gone at once, its clients' connections drop. */
  async kill(port: number): Promise<void> {
    const child = this.child(port);
    child.kill('SIGKILL');
    await exited(child);
  }

  /** SIGSTOP: the server keeps its connections open and answers nothing. */
  freeze(port: number): void {
    this.child(port).kill('SIGSTOP');
  }

  /** Kills every process started here (a frozen one too) and removes the folder. */
  async stop(): Promise<void> {
    const children = [...this.children.values()];
    for (const child of children) child.kill('SIGKILL');
    await Promise.all(children.map(exited));
    rmSync(this.dir, { recursive: true, force: true });
  }

  private child(port: number): ChildProcess {
    const child = this.children.get(port);
    if (!child) throw new Error(`no server of ours on ${port}`);
    return child;
  }
}
