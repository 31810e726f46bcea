import type { ConnectionInjector } from '@grpc/grpc-js';
import { readFileSync } from 'node:fs';
import http, { type IncomingHttpHeaders, type OutgoingHttpHeaders } from 'node:http';
import http2, { type Http2Session, type Http2ServerRequest } from 'node:http2';
import type { Socket } from 'node:net';
import { Duplex } from 'node:stream';
import tls from 'node:tls';
import type { Logger } from 'pino';
import { toGrpcError } from '../errors/error.filter';
import { Errors } from '../errors/errors';
import { encodeGrpcMessage } from '../grpc/grpc-web-frames';
import { STATUS_DETAILS_KEY } from '../grpc/status-details';
import { StartupError } from '../startup/startup-error';
import { EMPTY_SETTINGS, PREFACE, PrefaceError, PrefaceReader } from './h2-preface';

export interface OnePortOptions {
  /** Express's server: every HTTP/1.1 connection, and each HTTP/2 request that is not gRPC */
  http1: http.Server;
  /** grpc-js's server, for HTTP/2 connections that open with a gRPC call */
  grpc: ConnectionInjector;
  /** PEM files: set, the port speaks TLS only (ALPN h2, http/1.1) */
  tls?: { certFile: string; keyFile: string };
  keepAliveTimeoutMs: number;
  /** what may arrive before the first request's headers */
  prefaceLimit: number;
  logger: Pick<Logger, 'warn'>;
}

/** gRPC proper (gRPC-web travels as plain HTTP requests). */
const GRPC = /^application\/grpc(\+|;|$)/i;
/** Hop-by-hop headers of HTTP/1.1, which HTTP/2 forbids. */
const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'transfer-encoding', 'upgrade', 'proxy-connection', 'te']);

/**
 * One port for every protocol: each connection goes where its TLS ALPN, its first bytes or (HTTP/2)
 * its first request's content type say (ADR 0003).
 */
export class OnePort {
  private readonly h1Listeners: Array<(socket: Duplex) => void>;
  private readonly h2 = http2.createServer({ settings: { maxConcurrentStreams: 100 } });
  /** Terminates TLS when configured; its connections are then routed by their ALPN choice. */
  private readonly tls?: tls.Server;
  private readonly sessions = new Set<Http2Session>();
  private readonly reading = new Set<Duplex>();
  private draining = false;

  constructor(private readonly options: OnePortOptions) {
    const { http1 } = options;
    this.h1Listeners = http1.listeners('connection') as Array<(socket: Duplex) => void>;
    http1.removeAllListeners('connection');
    http1.on('connection', (socket: Socket) => this.accept(socket));
    if (options.tls) {
      this.tls = tls.createServer({
        ...loadTls(options.tls),
        minVersion: 'TLSv1.2',
        ALPNProtocols: ['h2', 'http/1.1'],
      });
      this.tls.on('secureConnection', (secure: tls.TLSSocket) => {
        if (secure.alpnProtocol === 'h2') this.readPreface(secure);
        else this.toHttp1(secure);
      });
      // a failed handshake: tls.Server has closed the connection, nothing to answer
      this.tls.on('tlsClientError', () => undefined);
    }
    this.h2.on('session', (session: Http2Session) => {
      this.sessions.add(session);
      session.once('close', () => this.sessions.delete(session));
      // an idle session is ended with GOAWAY, never reset
      session.setTimeout(options.keepAliveTimeoutMs, () => session.close());
      if (this.draining) session.close();
    });
    this.h2.on('request', (req: Http2ServerRequest) => this.request(req));
    // Node's close() ends idle HTTP/1.1 connections only; an HTTP/2 one (ours or grpc-js's) would
    // keep app.close() waiting for good (grpc-js's sessions are only ended after it), so it drains them
    const close = http1.close.bind(http1);
    http1.close = ((callback?: (error?: Error) => void) => {
      this.drain();
      options.grpc.drain(options.keepAliveTimeoutMs);
      return close(callback);
    }) as typeof http1.close;
  }

  /** GOAWAY on our HTTP/2 sessions (grpc-js ends its own), connections still being read closed. */
  drain(): void {
    this.draining = true;
    for (const session of this.sessions) session.close();
    for (const socket of this.reading) socket.destroy();
  }

  /** Closes every HTTP/2 session of ours now; returns how many there were. */
  cut(): number {
    const count = this.sessions.size;
    for (const session of this.sessions) session.destroy();
    return count;
  }

  private accept(socket: Socket): void {
    if (this.tls) this.tls.emit('connection', socket);
    else this.sniff(socket);
  }

  /** Cleartext: HTTP/2 with prior knowledge starts with its preface, anything else is HTTP/1.1. */
  private sniff(socket: Socket): void {
    let head: Buffer = Buffer.alloc(0);
    const onData = (chunk: Buffer) => {
      head = head.length ? Buffer.concat([head, chunk]) : chunk;
      // "PRI" starts no HTTP/1.1 method but the preface's
      const seen = Math.min(head.length, 3);
      const h2 = head.subarray(0, seen).equals(PREFACE.subarray(0, seen));
      if (h2 && head.length < 3) return;
      socket.removeListener('data', onData);
      socket.removeListener('end', onEnd);
      socket.pause();
      socket.unshift(head);
      socket.setTimeout(0);
      if (h2) this.readPreface(socket);
      else this.toHttp1(socket);
    };
    // a client gone before it said what it speaks: nothing to answer (the port's listener keeps
    // half-open connections, so without this its side stayed open until the idle timeout)
    const onEnd = () => socket.destroy();
    // a connection that sends nothing is closed as an idle one would be
    socket.setTimeout(this.options.keepAliveTimeoutMs, () => socket.destroy());
    socket.on('data', onData);
    socket.on('end', onEnd);
  }

  private toHttp1(socket: Duplex): void {
    for (const listener of this.h1Listeners) listener.call(this.options.http1, socket);
    socket.resume();
  }

  private readPreface(socket: Socket): void {
    if (this.draining) return void socket.destroy();
    const reader = new PrefaceReader(this.options.prefaceLimit);
    this.reading.add(socket);
    let ours = false;
    const done = () => {
      socket.removeListener('data', onData);
      socket.removeListener('close', onClose);
      socket.removeListener('end', onEnd);
      this.reading.delete(socket);
    };
    const onClose = () => done();
    // the client gone before its first request: its side is closed too, not left to the idle timeout
    const onEnd = () => {
      done();
      socket.destroy();
    };
    const onData = (chunk: Buffer) => {
      let complete: boolean;
      try {
        complete = reader.push(chunk);
        if (!ours && reader.prefaceRead) {
          ours = true;
          socket.write(EMPTY_SETTINGS);
        }
        if (!complete) return;
        const contentType = reader.headers().get('content-type') ?? '';
        done();
        // Express's server accepts half-open connections (HTTP/1.1 ends its side itself); HTTP/2
        // sessions do not, and would leave a connection the client closed open for good
        socket.allowHalfOpen = false;
        socket.pause();
        socket.setTimeout(0);
        socket.unshift(reader.replay());
        if (GRPC.test(contentType)) this.options.grpc.injectConnection(socket);
        else this.h2.emit('connection', socket);
      } catch (error) {
        done();
        if (!(error instanceof PrefaceError))
          this.options.logger.warn({ kind: (error as Error)?.name }, 'HTTP/2 connection refused');
        socket.destroy();
      }
    };
    // a connection that never sends its first request is closed as an idle one would be
    socket.setTimeout(this.options.keepAliveTimeoutMs, () => socket.destroy());
    socket.on('data', onData);
    socket.on('close', onClose);
    socket.on('end', onEnd);
    socket.resume();
  }

  /** An HTTP/2 request that is not gRPC: to Express, as HTTP/1.1 over an in-memory connection. */
  private request(req: Http2ServerRequest): void {
    const { stream } = req;
    // answered before its body was all read (a refusal: 405, 415, a size), the rest is not wanted: a
    // stream left half-open would hold its session, and the connection, open for good (RFC 9113 §8.1)
    stream.once('finish', () => {
      if (req.complete) return;
      // what is still buffered is dropped, so the stream can end
      req.resume();
      stream.close(http2.constants.NGHTTP2_NO_ERROR);
    });
    if (GRPC.test(req.headers['content-type'] ?? '')) return refuseGrpc(req);
    const [client, server] = memoryConnection(req.socket);
    for (const listener of this.h1Listeners) listener.call(this.options.http1, server);
    const headers: OutgoingHttpHeaders = { connection: 'close' };
    for (const [name, value] of Object.entries(req.headers as IncomingHttpHeaders)) {
      if (name.startsWith(':') || HOP_BY_HOP.has(name) || value === undefined) continue;
      headers[name] = name === 'cookie' && Array.isArray(value) ? value.join('; ') : value;
    }
    headers.host = req.authority ?? 'localhost';
    let outgoing: http.ClientRequest;
    try {
      outgoing = http.request({
        method: req.method,
        path: req.url,
        headers,
        setHost: false,
        createConnection: () => client as unknown as Socket,
      });
    } catch {
      stream.respond({ ':status': 400 }, { endStream: true });
      return;
    }
    outgoing.on('response', (answer) => {
      const out: OutgoingHttpHeaders = { ':status': answer.statusCode ?? 500 };
      for (const [name, value] of Object.entries(answer.headers)) {
        if (!HOP_BY_HOP.has(name) && value !== undefined) out[name] = value;
      }
      if (stream.destroyed) return void answer.destroy();
      stream.respond(out);
      answer.pipe(stream);
    });
    outgoing.on('error', () => {
      if (!stream.destroyed) stream.close(http2.constants.NGHTTP2_INTERNAL_ERROR);
    });
    stream.on('close', () => {
      outgoing.destroy();
      server.destroy();
    });
    req.pipe(outgoing);
  }
}

/** A gRPC call on a connection that began with another protocol: grpc-js has not got it. */
function refuseGrpc(req: Http2ServerRequest): void {
  const { code, details, metadata } = toGrpcError(
    Errors.unimplemented('gRPC on an HTTP/2 connection that began with another protocol (open a new connection)'),
  );
  req.stream.respond(
    {
      ':status': 200,
      'content-type': 'application/grpc',
      'grpc-status': String(code),
      'grpc-message': encodeGrpcMessage(details),
      [STATUS_DETAILS_KEY]: (metadata.get(STATUS_DETAILS_KEY)[0] as Buffer).toString('base64'),
    },
    { endStream: true },
  );
}

/** The certificate and key, checked to make a TLS context (else the start stops naming the setting). */
function loadTls(files: { certFile: string; keyFile: string }): { cert: Buffer; key: Buffer } {
  const read = (setting: string, file: string) => {
    try {
      return readFileSync(file);
    } catch (error) {
      const reason = (error as NodeJS.ErrnoException).code ?? String(error);
      throw new StartupError(`${setting} ${file} cannot be read (${reason})`, { setting, reason, file });
    }
  };
  const cert = read('TLS_CERT_FILE', files.certFile);
  const key = read('TLS_KEY_FILE', files.keyFile);
  try {
    tls.createSecureContext({ cert, key });
    return { cert, key };
  } catch (error) {
    const reason = (error as Error).message;
    throw new StartupError(`TLS_CERT_FILE and TLS_KEY_FILE do not make a certificate and its key (${reason})`, {
      setting: 'TLS_CERT_FILE',
      reason,
    });
  }
}

/** One end of an in-memory connection: what one end writes, the other reads. */
class MemoryEnd extends Duplex {
  other?: MemoryEnd;
  remoteAddress?: string;
  remotePort?: number;
  encrypted?: boolean;

  override _read(): void {
    // pushed by the other end
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, done: (error?: Error | null) => void): void {
    this.other?.push(chunk);
    done();
  }

  override _final(done: () => void): void {
    this.other?.push(null);
    done();
  }

  override _destroy(error: Error | null, done: (error?: Error | null) => void): void {
    if (this.other && !this.other.destroyed) this.other.destroy();
    done(error);
  }

  setTimeout(): this {
    return this;
  }

  destroySoon(): void {
    this.end(() => this.destroy());
  }

  setNoDelay(): this {
    return this;
  }

  setKeepAlive(): this {
    return this;
  }

  ref(): this {
    return this;
  }

  unref(): this {
    return this;
  }
}

/** [the client's end, the server's end], the server's reporting the real client's address. */
function memoryConnection(from: {
  remoteAddress?: string;
  remotePort?: number;
  encrypted?: boolean;
}): [MemoryEnd, MemoryEnd] {
  const client = new MemoryEnd();
  const server = new MemoryEnd();
  client.other = server;
  server.other = client;
  server.remoteAddress = from.remoteAddress;
  server.remotePort = from.remotePort;
  server.encrypted = from.encrypted === true ? true : undefined;
  return [client, server];
}
