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
 * Ends an HTTP/1.1 server's connections without resetting a request: answers carry `Connection:
 * close`, and an idle keep-alive connection is closed only after IDLE_GRACE_MS, so a request already
 * on its way is answered. Stops accepting through net.Server's close (ADR 0006, item 2).
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
