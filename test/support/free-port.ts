import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { randomInt } from 'node:crypto';

/**
 * A port on 127.0.0.1 that nobody listens on right now, for a server started a moment later.
 *
 * Chosen below the kernel's ephemeral range: a port the kernel picks for `listen(0)` can be handed
 * to an outgoing connection (a database client's, say) between our check and the server's bind,
 * which then fails with EADDRINUSE; a port below that range is never handed out on its own. A port
 * is given out once per process.
 */
export async function freePort(): Promise<number> {
  const [low, high] = candidateRange();
  // an ephemeral range that starts too low to leave room below it: take the kernel's pick
  if (low >= high) return kernelPick();
  for (let attempt = 0; attempt < 100; attempt++) {
    const port = randomInt(low, high + 1);
    if (given.has(port)) continue;
    if (await canListen(port)) {
      given.add(port);
      return port;
    }
  }
  throw new Error(`no free port found between ${low} and ${high}`);
}

const given = new Set<number>();

function candidateRange(): [number, number] {
  let ephemeralLow = 32768;
  try {
    const [first] = readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/);
    if (Number(first) > 0) ephemeralLow = Number(first);
  } catch {
    // not Linux: the usual default
  }
  const high = ephemeralLow - 1;
  return [Math.max(1024, high - 12_000), high];
}

function canListen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.unref();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}

function kernelPick(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}
