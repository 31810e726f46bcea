import { STATUS_CODES, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import type { NextFunction, Request, Response } from 'express';
import type { Logger } from 'pino';
import { encodeGrpcMessage, trailerFrame } from '../grpc/grpc-web-frames';
import { STATUS_DETAILS_KEY } from '../grpc/status-details';
import { AppError, toErrorBody } from './app-error';
import { toGrpcError } from './error.filter';
import { GrpcStatus } from './grpc-status';
import { HTTP_ERROR_IDS } from './normalize-error';

type Answer = [status: number, code: GrpcStatus, id: string, text: string];

const answer = (status: number, code: GrpcStatus): Answer => [status, code, ...HTTP_ERROR_IDS[status]];

/** Node's own statuses for a request it cannot parse (as its default `clientError` handling picks them). */
const PARSE_ANSWERS: Record<string, Answer> = {
  HPE_HEADER_OVERFLOW: answer(431, GrpcStatus.INVALID_ARGUMENT),
  HPE_CHUNK_EXTENSIONS_OVERFLOW: answer(413, GrpcStatus.INVALID_ARGUMENT),
  ERR_HTTP_REQUEST_TIMEOUT: answer(408, GrpcStatus.DEADLINE_EXCEEDED),
};
const MALFORMED: Answer = [400, GrpcStatus.INVALID_ARGUMENT, 'API-badreq', 'Malformed HTTP request'];

/** How long a refused connection may stay half-open for the client to read the answer and close. */
const LINGER_MS = 5_000;

function rawResponse([status, code, id, text]: Answer): string {
  const body = JSON.stringify(toErrorBody(new AppError(code, id, text)));
  return (
    `HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\n` +
    'Content-Type: application/json; charset=utf-8\r\n' +
    `Content-Length: ${Buffer.byteLength(body)}\r\n` +
    'Connection: close\r\n\r\n' +
    body
  );
}

/** A gRPC-web call (by its content type in what Node read) is answered in gRPC-web, as its handler would. */
const GRPC_WEB_TYPE = /^content-type:[ \t]*application\/grpc-web(-text)?/im;

function grpcWebResponse([, code, id, text]: Answer, textMode: boolean): Buffer {
  const error = toGrpcError(new AppError(code, id, text));
  const details = error.metadata.get(STATUS_DETAILS_KEY)[0] as Buffer;
  const frames = trailerFrame({
    'grpc-status': String(code),
    'grpc-message': encodeGrpcMessage(error.details),
    [STATUS_DETAILS_KEY]: details.toString('base64'),
  });
  const body = textMode ? Buffer.from(frames.toString('base64')) : frames;
  const head =
    'HTTP/1.1 200 OK\r\n' +
    `Content-Type: application/grpc-web${textMode ? '-text' : ''}+proto\r\n` +
    `Content-Length: ${body.length}\r\n` +
    'Connection: close\r\n\r\n';
  return Buffer.concat([Buffer.from(head), body]);
}

/**
 * The responses not yet finished on each connection (pipelined requests can have several), from
 * the server's 'request' event: what the `clientError` handler must not write into.
 */
function trackResponses(server: Server): WeakMap<Duplex, Set<ServerResponse>> {
  const inFlight = new WeakMap<Duplex, Set<ServerResponse>>();
  // first, so that no other listener can have finished the response before it is tracked
  server.prependListener('request', (req: IncomingMessage, res: ServerResponse) => {
    const responses = inFlight.get(req.socket) ?? new Set<ServerResponse>();
    inFlight.set(req.socket, responses);
    const done = () => responses.delete(res);
    res.once('finish', done);
    res.once('close', done);
    responses.add(res);
  });
  return inFlight;
}

/**
 * Answers what Node's HTTP parser refuses (a request line or headers over the 16 KiB limit, a
 * malformed request, a request that took too long) with the contract's error body instead of
 * Node's bare status line, then closes the connection. Socket faults, and a connection where a
 * response has already begun, get nothing written: the socket is destroyed.
 */
export function answerClientErrors(server: Server, logger: Logger): void {
  const answered = new WeakSet<Duplex>();
  const inFlight = trackResponses(server);
  server.on('clientError', (error: NodeJS.ErrnoException, socket: Duplex) => {
    // an errored parser reports again on each later chunk of the same connection
    if (answered.has(socket)) return;
    answered.add(socket);
    const code = error.code ?? '';
    const begun = [...(inFlight.get(socket) ?? [])].some((res) => res.headersSent);
    const refusal = PARSE_ANSWERS[code] ?? (code.startsWith('HPE_') ? MALFORMED : undefined);
    if (!refusal || !socket.writable || begun) {
      socket.destroy();
      return;
    }
    logger.info({ code, res: { statusCode: refusal[0] } }, 'malformed request refused');
    const grpcWeb = GRPC_WEB_TYPE.exec((error as { rawPacket?: Buffer }).rawPacket?.toString('latin1') ?? '');
    socket.end(grpcWeb ? grpcWebResponse(refusal, Boolean(grpcWeb[1])) : rawResponse(refusal));
    const timer = setTimeout(() => socket.destroy(), LINGER_MS);
    timer.unref();
    socket.once('close', () => clearTimeout(timer));
  });
}

/** More header lines than this are refused; Node would silently drop those past its limit. */
export const MAX_HEADER_LINES = 2_000;

/** Lets Node keep one header line past the limit, so that `tooManyHeaders` can tell it was exceeded. */
export function countHeaderLines(server: Server): void {
  server.maxHeadersCount = MAX_HEADER_LINES + 1;
}

const TOO_MANY_HEADERS = toErrorBody(
  new AppError(GrpcStatus.INVALID_ARGUMENT, 'API-hdrmany', 'Too many request header fields'),
);

/** Middleware: 431 with the error body for a request with more header lines than MAX_HEADER_LINES. */
export function tooManyHeaders(req: Request, res: Response, next: NextFunction): void {
  if (req.rawHeaders.length / 2 <= MAX_HEADER_LINES) return next();
  res.setHeader('Connection', 'close');
  res.status(431).json(TOO_MANY_HEADERS);
}
