import { Metadata } from '@grpc/grpc-js';
import type { Request, Response } from 'express';
import { createGunzip } from 'node:zlib';
import { AppError } from '../errors/app-error';
import { Errors } from '../errors/errors';
import { GrpcStatus } from '../errors/grpc-status';
import { idOf } from '../logging/request-log';
import { noteRpcCall, noteRpcCode } from '../metrics/request-metrics';
import { httpScopeOf } from '../tracing/server-spans';
import { invokeUnary, type RpcOutcome } from './in-process-call';
import type { UnaryRpc } from './rpc-handlers';

/**
 * Headers passed on to the handlers as metadata (the guard reads authorization; Origin the request
 * id, the CAPTCHA token and the idempotency key).
 */
const FORWARDED_HEADERS = [
  'authorization',
  'x-user-agent',
  'x-zitadel-orgid',
  'user-agent',
  'x-captcha-token',
  'idempotency-key',
];
/** What grpc-js (and HTTP/2) take as a metadata value: printable ASCII. */
const METADATA_VALUE = /^[\x20-\x7e]*$/;

export type RpcTransport = 'grpc_web' | 'connect';

/**
 * The browser's (or SDK's) headers as metadata, or the caller's error. An Authorization value
 * metadata cannot hold is left out, so the guard answers it as any token it cannot read
 * (UNAUTHENTICATED on a method that needs one, as REST and native gRPC do); other headers are
 * INVALID_ARGUMENT.
 */
export function metadataOf(req: Request): Metadata | AppError {
  const metadata = new Metadata();
  // the request log's id (the caller's x-request-id when usable): one correlation id for the call
  const requestId = idOf(req);
  if (requestId) metadata.set('x-request-id', requestId);
  for (const header of FORWARDED_HEADERS) {
    const value = req.headers[header];
    if (typeof value !== 'string') continue;
    if (METADATA_VALUE.test(value)) metadata.set(header, value);
    else if (header !== 'authorization' && header !== 'user-agent') {
      return Errors.validation([
        { field: header, description: `the ${header} header must be printable ASCII (0x20-0x7E)` },
      ]);
    }
  }
  return metadata;
}

export const tooLarge = (limit: number) =>
  new AppError(GrpcStatus.RESOURCE_EXHAUSTED, 'API-t00big', `request larger than ${limit} bytes`);

/**
 * The request body, at most `limit` bytes (after gunzip when `gzip`), or the caller's error.
 * A body that breaks off (the client went away) resolves undefined: nobody is left to answer.
 */
export function readBody(req: Request, limit: number, gzip = false): Promise<Buffer | AppError | undefined> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let over = false;
    const source = gzip ? req.pipe(createGunzip({ maxOutputLength: limit + 1 })) : req;
    source.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) over = true;
      else chunks.push(chunk);
    });
    source.on('error', () => {
      if (gzip && !req.readableAborted) {
        const error = over
          ? tooLarge(limit)
          : Errors.validation([
              { field: 'body', description: 'the body does not decompress with its content-encoding' },
            ]);
        // the rest of the body is read and dropped, so the answer can be sent
        req.resume();
        return resolve(error);
      }
      resolve(undefined);
    });
    req.on('aborted', () => resolve(undefined));
    source.on('end', () => resolve(over ? tooLarge(limit) : Buffer.concat(chunks)));
  });
}

/**
 * Runs a call in process, in the HTTP request's trace span, counted as `transport`; the call is
 * cancelled when the client goes away first.
 */
export function callInProcess(
  rpc: UnaryRpc,
  body: Buffer,
  req: Request,
  res: Response,
  metadata: Metadata,
  deadline: number | undefined,
): Promise<RpcOutcome> {
  const gone = new AbortController();
  res.on('close', () => {
    if (!res.writableFinished) gone.abort();
  });
  const call = () =>
    invokeUnary(rpc, body, {
      metadata,
      clientAddress: req.ip ?? 'unknown',
      deadline,
      signal: gone.signal,
      // a handler's response metadata (idempotent-replayed) becomes HTTP headers, as gRPC-web and Connect carry them
      onMetadata: (sent) => {
        if (res.headersSent) return;
        for (const [name, value] of Object.entries(sent.getMap()))
          if (typeof value === 'string') res.setHeader(name, value);
      },
    });
  const scope = httpScopeOf(req);
  return scope ? scope.run(call) : call();
}

/**
 * Counts the request as a call of `transport` (method unknown when it matched none of ours); the
 * HTTP request's span, the call's server span, is named after the method and says what it is.
 */
export function countAs(res: Response, transport: RpcTransport, rpc: UnaryRpc | undefined, req: Request): void {
  noteRpcCall(res, transport, rpc?.name);
  const scope = rpc && httpScopeOf(req);
  if (!scope) return;
  scope.route = rpc.path;
  const slash = rpc.path.lastIndexOf('/');
  scope.span?.setAttributes({
    'rpc.system': transport === 'connect' ? 'connect_rpc' : 'grpc',
    'rpc.service': rpc.path.slice(1, slash),
    'rpc.method': rpc.path.slice(slash + 1),
  });
}

/** The status a call was answered with, for its count and its span. */
export function answeredWith(req: Request, res: Response, code: number): void {
  noteRpcCode(res, code);
  httpScopeOf(req)?.span?.setAttribute('rpc.grpc.status_code', code);
}
