import { Socket } from 'node:net';

// eslint-disable-next-line @typescript-eslint/no-require-imports
const pg = require('pg') as { Client: new (config: Record<string, unknown>) => object };

/** The socket each client of the pool talks through: handed to node-postgres, kept here. */
const sockets = new WeakMap<object, Socket>();

/**
 * node-postgres's client on a TCP socket of our own (its documented `stream` option; the pool
 * makes its clients from the class in its documented `Client` option), so that the adapter can
 * hold the socket's writes (holdWrites). A Unix-socket or TLS connection works as usual: TLS
 * wraps this socket.
 */
export class HoldingClient extends pg.Client {
  constructor(config: Record<string, unknown>) {
    const socket = new Socket();
    super({ ...config, stream: socket });
    sockets.set(this, socket);
  }
}

/**
 * Holds a client's outgoing bytes until the promise reactions running now have all run, so that
 * statements a transaction issues together (BEGIN and its first statement, a `Promise.all`, the
 * closing writes and COMMIT) leave in one write instead of one each: every write to a TCP socket
 * costs a system call and a wake-up of PostgreSQL. Pipeline mode has already sent them without
 * waiting for answers; this only packs them.
 */
export function holdWrites(client: object): void {
  const socket = sockets.get(client);
  if (!socket || socket.writableCorked > 0) return;
  socket.cork();
  process.nextTick(() => socket.uncork());
}
