import { Socket } from 'node:net';

// eslint-disable-next-line @typescript-eslint/no-require-imports
const pg = require('pg') as { Client: new (config: Record<string, unknown>) => object };

/** The socket each client of the pool talks through: handed to node-postgres, kept here. */
const sockets = new WeakMap<object, Socket>();

/** node-postgres's client on a socket of ours (its `stream` option), so that holdWrites can cork it (ADR 0005). */
export class HoldingClient extends pg.Client {
  constructor(config: Record<string, unknown>) {
    const socket = new Socket();
    super({ ...config, stream: socket });
    sockets.set(this, socket);
  }
}

/**
 * Holds a client's bytes until the current promise reactions have run: statements issued together
 * leave in one system call instead of one each (ADR 0009).
 */
export function holdWrites(client: object): void {
  const socket = sockets.get(client);
  if (!socket || socket.writableCorked > 0) return;
  socket.cork();
  process.nextTick(() => socket.uncork());
}
