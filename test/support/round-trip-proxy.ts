import { once } from 'node:events';
import { AddressInfo, connect, createServer, Server, Socket } from 'node:net';

/** PostgreSQL's Terminate message: a client's last words on a connection, never answered. */
const TERMINATE = Buffer.from([0x58, 0, 0, 0, 4]);

/**
 * A TCP proxy on 127.0.0.1 in front of PostgreSQL that counts round trips: on each connection, a
 * chunk the client sends after the server's last answer (or first) starts one; whatever else the
 * client sends before the next answer arrives belongs to it. That is what a request waits for,
 * one after the other. A connection's start-up and authentication count too, so measure the
 * difference around a request made once the pool is warm (`opened` tells whether it was); its
 * Terminate message does not (nothing waits for an answer to it: a pool closing an idle
 * connection during a measurement leaves the count alone).
 */
export class RoundTripProxy {
  /** round trips so far, over every connection */
  count = 0;
  /** connections accepted so far */
  opened = 0;
  /** connections closed so far */
  closed = 0;
  private readonly sockets = new Set<Socket>();

  private constructor(
    private readonly server: Server,
    private readonly target: { host: string; port: number },
  ) {
    server.on('connection', (client) => this.forward(client));
    // a failed accept is the client's problem; the listener stays up
    server.on('error', () => undefined);
  }

  /** Listens on an ephemeral port of 127.0.0.1, forwarding to the host and port of `url` (postgres://…). */
  static async start(url: string): Promise<RoundTripProxy> {
    const { hostname, port } = new URL(url);
    const server = createServer();
    const proxy = new RoundTripProxy(server, {
      host: hostname.replace(/^\[(.*)\]$/, '$1') || '127.0.0.1',
      port: Number(port || 5432),
    });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    return proxy;
  }

  get port(): number {
    return (this.server.address() as AddressInfo).port;
  }

  /** `url` (postgres://…) pointed at the proxy instead: same user, password, database and options. */
  url(url: string): string {
    const proxied = new URL(url);
    proxied.hostname = '127.0.0.1';
    proxied.port = String(this.port);
    return proxied.toString();
  }

  /** Ends every connection and stops listening. */
  async close(): Promise<void> {
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    for (const socket of this.sockets) socket.destroy();
    await closed;
  }

  private forward(client: Socket): void {
    this.opened++;
    const server = connect(this.target);
    let answered = true;
    client.on('data', (chunk: Buffer) => {
      if (!answered || chunk.equals(TERMINATE)) return;
      answered = false;
      this.count++;
    });
    server.on('data', () => (answered = true));
    this.track(client, server);
    this.track(server, client);
    client.once('close', () => this.closed++);
    client.pipe(server);
    server.pipe(client);
  }

  /** An error on one side destroys both; a side that closed ends the other once its writes are out. */
  private track(socket: Socket, peer: Socket): void {
    this.sockets.add(socket);
    socket.on('error', () => {
      socket.destroy();
      peer.destroy();
    });
    socket.once('close', () => {
      this.sockets.delete(socket);
      peer.end();
    });
  }
}
