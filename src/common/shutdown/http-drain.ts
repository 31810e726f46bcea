import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import { Server as NetServer, Socket } from 'node:net';

/** How long a keep-alive connection must have been idle since the drain began before it is closed (the grace). */
export const IDLE_GRACE_MS = 1_000;
const SWEEP_MS = 100;

interface Connection {
  inFlight: number;
  lastActive: number;
  bytesRead: number;
}

/**
 * Ends an HTTP/1.1 server's connections without resetting a request. At `drain()` it stops
 * accepting connections, every response not yet started carries `Connection: close` (so the
 * client sends its next request elsewhere and Node closes the socket after the answer), and a
 * keep-alive connection without a request is closed only once it has been quiet for
 * IDLE_GRACE_MS since the drain began: a request that was already on its way is read and answered
 * instead of meeting a closed socket. http.Server's own `close()` closes idle connections at once,
 * racing such requests, and there is no public way to stop accepting without it: the listener is
 * closed with the close of net.Server, which http.Server extends (docs/adr/0006-library-internals.md).
 * Closing it later instead, once no connection is idle, resets the connections clients open
 * meanwhile that are still waiting to be accepted.
 */
export class HttpDrain {
  private readonly connections = new Map<Socket, Connection>();
  private readonly unstarted = new Set<ServerResponse>();
  private drainingSince?: number;
  private sweeper?: NodeJS.Timeout;

  constructor(
    private readonly server: Server,
    private readonly idleGraceMs = IDLE_GRACE_MS,
  ) {
    server.on('connection', (socket: Socket) => {
      this.connections.set(socket, { inFlight: 0, lastActive: Date.now(), bytesRead: 0 });
      socket.once('close', () => this.connections.delete(socket));
    });
    // before the app's own listener, which may answer at once
    server.prependListener('request', (req: IncomingMessage, res: ServerResponse) => this.track(req, res));
  }

  /** Resolves when the listener is closed and every connection has ended. */
  drain(): Promise<void> {
    if (this.drainingSince === undefined) {
      this.drainingSince = Date.now();
      for (const res of this.unstarted) if (!res.headersSent) res.setHeader('Connection', 'close');
      this.unstarted.clear();
      this.sweeper = setInterval(() => this.closeIdle(), SWEEP_MS);
    }
    return new Promise<void>((resolve) => {
      if (!this.server.listening && this.connections.size === 0) return resolve();
      // net.Server's close: stop accepting and call back when the last connection has ended
      NetServer.prototype.close.call(this.server, () => resolve());
    }).finally(() => clearInterval(this.sweeper));
  }

  /** Closes every connection now, requests in flight included; returns how many there were. */
  cut(): number {
    const count = this.connections.size;
    for (const socket of this.connections.keys()) socket.destroy();
    return count;
  }

  private track(req: IncomingMessage, res: ServerResponse): void {
    const connection = this.connections.get(req.socket);
    if (connection) connection.inFlight++;
    if (this.drainingSince !== undefined) res.setHeader('Connection', 'close');
    else this.unstarted.add(res);
    res.once('close', () => {
      this.unstarted.delete(res);
      if (!connection) return;
      connection.inFlight--;
      connection.lastActive = Date.now();
    });
  }

  private closeIdle(): void {
    const now = Date.now();
    for (const [socket, connection] of this.connections) {
      // bytes read but no request yet: a request is arriving
      if (socket.bytesRead !== connection.bytesRead) {
        connection.bytesRead = socket.bytesRead;
        connection.lastActive = now;
      }
      const quietSince = Math.max(connection.lastActive, this.drainingSince!);
      if (connection.inFlight === 0 && now - quietSince >= this.idleGraceMs) socket.destroy();
    }
  }
}
