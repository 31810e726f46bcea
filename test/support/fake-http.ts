import { createServer, IncomingHttpHeaders, Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/** One request a fake server received, with its raw body (signatures are computed over it). */
export interface Received {
  method: string;
  path: string;
  headers: IncomingHttpHeaders;
  raw: string;
  /** the body parsed as JSON, or {} */
  json: Record<string, any>;
  /** the body parsed as a form */
  form: URLSearchParams;
  receivedAt: number;
  /** the status it was answered with (undefined while held or when the client gave up first) */
  answered?: number;
}

export interface Reply {
  status: number;
  body?: string;
  contentType?: string;
}

/** Decides each answer; a promise holds the request until it settles (one that never does makes the client time out). */
export type Handler = (request: Received) => Reply | Promise<Reply>;

/** A local HTTP server on 127.0.0.1 that records every request and answers as `handler` says. */
export class FakeHttpServer {
  readonly requests: Received[] = [];
  handler: Handler = () => ({ status: 200 });
  private server?: Server;
  private port = 0;

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  async start(): Promise<this> {
    this.server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (chunk: Buffer) => chunks.push(chunk));
      req.on('end', () => {
        const raw = Buffer.concat(chunks).toString('utf8');
        let json: Record<string, any> = {};
        try {
          json = JSON.parse(raw) as Record<string, any>;
        } catch {
          // not JSON (a form, or nothing)
        }
        const received: Received = {
          method: req.method ?? '',
          path: req.url ?? '',
          headers: req.headers,
          raw,
          json,
          form: new URLSearchParams(raw),
          receivedAt: Date.now(),
        };
        this.requests.push(received);
        void Promise.resolve(this.handler(received)).then(
          (reply) => {
            if (res.destroyed || res.headersSent) return;
            received.answered = reply.status;
            res.writeHead(reply.status, { 'Content-Type': reply.contentType ?? 'application/json' });
            res.end(reply.body ?? '{}');
          },
          () => res.destroy(),
        );
      });
    });
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    this.port = (this.server.address() as AddressInfo).port;
    return this;
  }

  async close(): Promise<void> {
    if (this.server) await closeServer(this.server);
  }
}

/** Closes a server at once: its keep-alive connections too, which `close()` alone would wait for. */
export async function closeServer(server: Server): Promise<void> {
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
}

/** A promise with its resolve function, to hold a request until the test lets it go. */
export function deferred<T>(): { promise: Promise<T>; resolve: (value: T) => void } {
  let resolve!: (value: T) => void;
  const promise = new Promise<T>((r) => (resolve = r));
  return { promise, resolve };
}
