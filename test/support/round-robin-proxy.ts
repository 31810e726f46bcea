import { once } from 'node:events';
import { AddressInfo, connect, createServer, Server, Socket } from 'node:net';

export interface Backend {
  host: string;
  port: number;
}

/** What a client gets when no backend takes its connection: the only answer the proxy writes itself. */
const NO_BACKEND_BODY = JSON.stringify({ code: 14, message: 'no backend accepted the connection' });
export const NO_BACKEND_HEADER = 'x-round-robin-proxy';
const NO_BACKEND =
  'HTTP/1.1 503 Service Unavailable\r\n' +
  'Content-Type: application/json\r\n' +
  'Retry-After: 1\r\n' +
  `${NO_BACKEND_HEADER}: no-backend\r\n` +
  'Connection: close\r\n' +
  `Content-Length: ${Buffer.byteLength(NO_BACKEND_BODY)}\r\n\r\n` +
  NO_BACKEND_BODY;

/**
 * A layer-4 round-robin load balancer on 127.0.0.1, as HAProxy in TCP mode with `retries` and
 * `option redispatch`, or a cloud network load balancer: each new client connection goes to the
 * next backend in turn and stays with it. A backend that refuses the connection (stopped, killed,
 * still starting) or does not accept it within `connectTimeoutMs` is skipped for the next one:
 * nothing of the client's has reached it, so nothing can be done twice. What the client sends
 * meanwhile waits in the proxy. When every backend refuses, the client gets a 503 that names the
 * proxy (`x-round-robin-proxy: no-backend`).
 *
 * Once a backend has the connection, the proxy only relays. Should the backend go away (SIGKILL),
 * the client's connection is closed without an answer: the proxy cannot know whether the backend
 * acted on the request, so it replays nothing, as a real balancer would not replay a POST.
 * No health checks: a draining server refuses new connections, which is all the proxy needs.
 */
export class RoundRobinProxy {
  /** connections handed to each backend, by index */
  readonly forwarded: number[];
  /** connection attempts each backend refused or let time out */
  readonly refused: number[];
  /** client connections no backend took (answered 503) */
  noBackend = 0;
  private next = 0;
  private readonly sockets = new Set<Socket>();

  private constructor(
    private readonly server: Server,
    private readonly backends: Backend[],
    private readonly connectTimeoutMs: number,
  ) {
    this.forwarded = backends.map(() => 0);
    this.refused = backends.map(() => 0);
    server.on('connection', (client) => this.accept(client));
    // a failed accept is the client's problem; the listener stays up
    server.on('error', () => undefined);
  }

  static async start(backends: Backend[], connectTimeoutMs = 2_000): Promise<RoundRobinProxy> {
    if (backends.length === 0) throw new Error('a round-robin proxy needs at least one backend');
    // a client may half-close once its request is written (allowHalfOpen): its answer still comes back
    const server = createServer({ pauseOnConnect: true, allowHalfOpen: true });
    const proxy = new RoundRobinProxy(server, backends, connectTimeoutMs);
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    return proxy;
  }

  get port(): number {
    return (this.server.address() as AddressInfo).port;
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  /** Stops listening and ends every connection. */
  async close(): Promise<void> {
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    for (const socket of this.sockets) socket.destroy();
    await closed;
  }

  private accept(client: Socket): void {
    this.sockets.add(client);
    client.once('close', () => this.sockets.delete(client));
    // what the client sends before a backend is connected is held here, never lost
    const held: Buffer[] = [];
    let clientGone = false;
    let clientEnded = false;
    const hold = (chunk: Buffer) => held.push(chunk);
    const ended = () => (clientEnded = true);
    client.on('data', hold);
    client.once('end', ended);
    client.on('error', () => client.destroy());
    client.once('close', () => (clientGone = true));
    client.resume();

    const first = this.next;
    this.next = (this.next + 1) % this.backends.length;
    const attempt = (tried: number) => {
      if (clientGone) return;
      if (tried === this.backends.length) {
        this.noBackend++;
        client.end(NO_BACKEND);
        return;
      }
      const index = (first + tried) % this.backends.length;
      const upstream = connect(this.backends[index]);
      const timer = setTimeout(() => upstream.destroy(new Error('connect timeout')), this.connectTimeoutMs);
      const refused = () => {
        clearTimeout(timer);
        this.refused[index]++;
        upstream.destroy();
        attempt(tried + 1);
      };
      upstream.once('error', refused);
      upstream.once('connect', () => {
        clearTimeout(timer);
        upstream.off('error', refused);
        this.forwarded[index]++;
        client.off('data', hold);
        client.off('end', ended);
        if (clientGone) {
          upstream.destroy();
          return;
        }
        for (const chunk of held) upstream.write(chunk);
        this.relay(client, upstream, clientEnded);
      });
    };
    attempt(0);
  }

  private relay(client: Socket, upstream: Socket, clientEnded: boolean): void {
    this.sockets.add(upstream);
    // an error on one side destroys both; a side that closed ends the other once its writes are out
    for (const [socket, peer] of [
      [client, upstream],
      [upstream, client],
    ] as const) {
      socket.on('error', () => {
        socket.destroy();
        peer.destroy();
      });
      socket.once('close', () => {
        this.sockets.delete(socket);
        peer.end();
      });
    }
    if (clientEnded) upstream.end();
    else client.pipe(upstream);
    upstream.pipe(client);
  }
}
