import { join } from 'node:path';
import { RoundTripProxy } from '../../test/support/round-trip-proxy';
import { startChild, waitUntil } from './processes';

/**
 * The tests' counting proxy (test/support/round-trip-proxy.ts) between a bench server and
 * PostgreSQL, as a process of its own: in the bench's process its forwarding would wait behind
 * the load generator, and the server's CPU figure (its own pid) leaves it out either way.
 */
export interface DbProxy {
  /** the database URL pointed at the proxy */
  url: string;
  /** round trips so far, over every connection */
  count(): Promise<number>;
  stop(): Promise<void>;
}

type Message = { url: string } | { id: number; count: number };

let proxyCount = 0;

export async function startDbProxy(databaseUrl: string, dir: string): Promise<DbProxy> {
  const name = `round-trip-proxy-${++proxyCount}`;
  const child = startChild(
    name,
    process.execPath,
    ['-r', 'ts-node/register/transpile-only', __filename, databaseUrl],
    { cwd: join(__dirname, '..', '..'), env: { PATH: process.env.PATH } },
    join(dir, `${name}.log`),
    true,
  );
  let url: string | undefined;
  let next = 0;
  const pending = new Map<number, { resolve(count: number): void; reject(error: Error): void }>();
  child.process.on('message', (message: Message) => {
    if ('url' in message) url = message.url;
    else pending.get(message.id)?.resolve(message.count);
  });
  void child.exited.then(() => {
    for (const { reject } of pending.values()) reject(new Error(`${name} exited`));
  });
  await waitUntil(child, 'its port', async () => url !== undefined);
  return {
    url: url!,
    count: () =>
      new Promise<number>((resolve, reject) => {
        const id = ++next;
        const settle =
          <T>(then: (value: T) => void) =>
          (value: T) => {
            pending.delete(id);
            then(value);
          };
        pending.set(id, { resolve: settle(resolve), reject: settle(reject) });
        child.process.send({ id }, (error) => error && settle(reject)(error));
      }),
    stop: () => child.stop(),
  };
}

/** The child: forwards to the database of argv[2], answers each `{ id }` with the count so far. */
async function serve(databaseUrl: string): Promise<void> {
  const proxy = await RoundTripProxy.start(databaseUrl);
  process.on('message', ({ id }: { id: number }) => process.send!({ id, count: proxy.count }));
  // the bench is gone
  process.on('disconnect', () => void proxy.close().finally(() => process.exit(0)));
  process.send!({ url: proxy.url(databaseUrl) });
}

if (require.main === module) void serve(process.argv[2]);
