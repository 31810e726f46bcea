import { httpScopeOf } from '../tracing/server-spans';
import { Client, credentials, Metadata, ServiceError, status as Status, StatusObject } from '@grpc/grpc-js';
import type { MethodDefinition } from '@grpc/proto-loader';
import type { NextFunction, Request, RequestHandler, Response } from 'express';
import { PACKAGE_DEFINITION } from './grpc-options';
import { encodeGrpcMessage, frame, FrameError, DATA_FRAME, readUnaryMessage, trailerFrame } from './grpc-web-frames';
import { BRIDGE_SECRET, BRIDGE_SECRET_HEADER } from '../throttle/client-address';
import { STATUS_DETAILS_KEY } from './status-details';
import { TIMEOUT_FORMAT } from './library-status';
import { AppError } from '../errors/app-error';
import { boundText } from '../errors/bounded-text';
import { toGrpcError } from '../errors/error.filter';
import { Errors } from '../errors/errors';
import { GrpcStatus } from '../errors/grpc-status';
import { randomUUID } from 'node:crypto';
import { noteGrpcWebCode, noteGrpcWebMethod, rpcName } from '../metrics/request-metrics';
import type { Logger } from 'pino';

const ALLOW_HEADERS = 'authorization, content-type, x-grpc-web, x-user-agent, grpc-timeout, x-request-id';
const EXPOSE_HEADERS = 'grpc-status, grpc-message, grpc-status-details-bin';
const FORWARDED_HEADERS = ['authorization', 'x-request-id', 'x-user-agent'];
const CONTENT_TYPE = /^application\/grpc-web(-text)?(\+proto)?\s*(;.*)?$/i;
/** Any gRPC-web content type, served or not (+json, say): the caller expects a gRPC-web answer. */
const ANY_GRPC_WEB = /^application\/grpc-web/i;

/** Every unary method we serve, by its HTTP path `/<package>.<Service>/<Method>`. */
const METHODS = new Map<string, MethodDefinition<object, object>>();
for (const service of Object.values(PACKAGE_DEFINITION)) {
  if ('format' in service) continue; // a message or enum, not a service
  for (const method of Object.values(service)) {
    if (!method.requestStream && !method.responseStream) METHODS.set(method.path, method);
  }
}
const SERVICE_PATH = /^\/(zitadel\.[a-z0-9.]+\.[A-Za-z]+Service|grpc\.health\.v1\.Health)\/[A-Za-z]+$/;

export interface GrpcWebBridgeOptions {
  grpcPort: number;
  corsOrigins: string;
  bodyLimit: number;
  logger: Pick<Logger, 'error'>;
}

/** What grpc-js (and HTTP/2) take as a metadata value: printable ASCII. */
const METADATA_VALUE = /^[\x20-\x7e]*$/;

function parseTimeout(value: string): number | undefined {
  const match = /^(\d{1,8})([HMSmun])$/.exec(value);
  if (!match) return undefined;
  const unitMs = { H: 3_600_000, M: 60_000, S: 1000, m: 1, u: 0.001, n: 0.000001 }[match[2] as 'H'];
  return Number(match[1]) * unitMs;
}

/**
 * The browser's headers as metadata, or the caller's error. An Authorization value metadata cannot
 * hold is left out, so the guard answers it as any token it cannot read (UNAUTHENTICATED on a
 * method that needs one, as REST and native gRPC do); other headers are INVALID_ARGUMENT.
 */
function forwardedMetadata(req: Request): Metadata | AppError {
  const metadata = new Metadata();
  for (const header of FORWARDED_HEADERS) {
    const value = req.headers[header];
    if (typeof value !== 'string') continue;
    if (METADATA_VALUE.test(value)) metadata.set(header, value);
    else if (header !== 'authorization') return headerError(header);
  }
  const address = req.ip ?? '';
  if (!METADATA_VALUE.test(address)) return headerError('x-forwarded-for');
  metadata.set('x-forwarded-for', address);
  metadata.set(BRIDGE_SECRET_HEADER, BRIDGE_SECRET);
  // the gRPC call continues the HTTP request's trace (ours, made from the browser's traceparent if any)
  const traceparent = httpScopeOf(req)?.traceparent();
  if (traceparent) metadata.set('traceparent', traceparent);
  return metadata;
}

const headerError = (header: string) =>
  Errors.validation([{ field: header, description: `the ${header} header must be printable ASCII (0x20-0x7E)` }]);

/**
 * gRPC-web on the HTTP port: unframes the browser's call, forwards it to our own gRPC server over
 * loopback (so the same guard, validation and error rendering apply), and frames the answer and
 * trailers back. A malformed call gets INVALID_ARGUMENT from here and never reaches the server;
 * anything here that throws unexpectedly is answered INTERNAL, never left to crash the process.
 */
export function grpcWebBridge(options: GrpcWebBridgeOptions): RequestHandler {
  let client: Client | undefined;
  const origins = options.corsOrigins === '*' ? '*' : new Set(options.corsOrigins.split(',').map((o) => o.trim()));

  const cors = (req: Request, res: Response) => {
    const origin = req.headers.origin;
    if (origins === '*') res.setHeader('Access-Control-Allow-Origin', '*');
    else if (origin && origins.has(origin)) {
      res.setHeader('Access-Control-Allow-Origin', origin);
      res.setHeader('Vary', 'Origin');
    }
    res.setHeader('Access-Control-Expose-Headers', EXPOSE_HEADERS);
  };

  /** Answers a gRPC-web call; false for a request that is none (the next middleware's). */
  const handle = (req: Request, res: Response): boolean => {
    const isService = SERVICE_PATH.test(req.path);
    const contentType = req.headers['content-type'] ?? '';
    const isGrpcWeb = CONTENT_TYPE.test(contentType);
    if (!isService && !ANY_GRPC_WEB.test(contentType)) return false;

    cors(req, res);
    if (req.method === 'OPTIONS') {
      res.setHeader('Access-Control-Allow-Methods', 'POST, OPTIONS');
      res.setHeader('Access-Control-Allow-Headers', ALLOW_HEADERS);
      res.setHeader('Access-Control-Max-Age', '600');
      res.status(204).end();
      return true;
    }
    const text = /grpc-web-text/i.test(contentType);
    const reply = (code: number, message: string, payload?: Buffer, trailers?: Metadata) =>
      answer(res, text, code, message, payload, trailers);
    const replyError = (error: AppError) => answerError(res, text, error);
    const fail = (error: unknown) => failed(req, res, text, options.logger, error);
    const guarded =
      <A extends unknown[]>(fn: (...args: A) => void) =>
      (...args: A) => {
        try {
          fn(...args);
        } catch (error) {
          fail(error);
        }
      };

    if (req.method !== 'POST') {
      replyError(new AppError(GrpcStatus.UNIMPLEMENTED, 'API-unimpl', `gRPC-web calls use POST, not ${req.method}`));
      return true;
    }
    if (!isGrpcWeb) {
      const why = `content-type must be application/grpc-web+proto, got "${contentType}"`;
      replyError(Errors.validation([{ field: 'content-type', description: why }]));
      return true;
    }
    const method = METHODS.get(req.path);
    if (!method) {
      replyError(Errors.unimplemented(`method ${req.path}`));
      return true;
    }
    // one of ours, so bounded: the HTTP span is named after it
    const scope = httpScopeOf(req);
    if (scope) scope.route = req.path;
    noteGrpcWebMethod(res, rpcName(req.path));

    const chunks: Buffer[] = [];
    let size = 0;
    let tooLarge = false;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > options.bodyLimit) tooLarge = true;
      else chunks.push(chunk);
    });
    req.on('error', () => res.destroy());
    req.on(
      'end',
      guarded(() => {
        if (tooLarge) {
          return replyError(
            new AppError(GrpcStatus.RESOURCE_EXHAUSTED, 'API-t00big', `request larger than ${options.bodyLimit} bytes`),
          );
        }
        let message: Buffer;
        try {
          const raw = Buffer.concat(chunks);
          message = readUnaryMessage(text ? Buffer.from(raw.toString('latin1'), 'base64') : raw);
          method.requestDeserialize(message);
        } catch (error) {
          const why =
            error instanceof FrameError ? error.message : 'the message is not a valid protobuf encoding of the request';
          return replyError(Errors.validation([{ field: 'body', description: `malformed gRPC-web request: ${why}` }]));
        }
        const metadata = forwardedMetadata(req);
        if (metadata instanceof AppError) return replyError(metadata);
        const timeoutHeader = req.headers['grpc-timeout'];
        const timeout = typeof timeoutHeader === 'string' ? parseTimeout(timeoutHeader) : undefined;
        if (timeoutHeader !== undefined && timeout === undefined) {
          return replyError(Errors.validation([{ field: 'grpc-timeout', description: TIMEOUT_FORMAT }]));
        }
        client ??= new Client(`127.0.0.1:${options.grpcPort}`, credentials.createInsecure());
        let response: Buffer | undefined;
        const call = client.makeUnaryRequest<Buffer, Buffer>(
          req.path,
          (b) => b,
          (b) => b,
          message,
          metadata,
          timeout === undefined ? {} : { deadline: Date.now() + timeout },
          (error: ServiceError | null, value?: Buffer) => {
            if (!error) response = value;
          },
        );
        call.on(
          'status',
          guarded((status: StatusObject) => {
            reply(status.code, status.code === Status.OK ? '' : status.details, response, status.metadata);
          }),
        );
        res.on('close', () => {
          if (!res.writableFinished) call.cancel();
        });
      }),
    );
    return true;
  };

  return (req: Request, res: Response, next: NextFunction) => {
    let mine: boolean;
    try {
      mine = handle(req, res);
    } catch (error) {
      failed(req, res, /grpc-web-text/i.test(req.headers['content-type'] ?? ''), options.logger, error);
      return;
    }
    if (!mine) next();
  };
}

/** The answer frames: the message if any, then the trailers (with the documented details on an error). */
function answer(res: Response, text: boolean, code: number, message: string, payload?: Buffer, trailers?: Metadata) {
  let details = trailers?.get(STATUS_DETAILS_KEY)[0];
  // a status not made by our server (the loopback client's own) gets the documented details too
  if (code !== Status.OK && !Buffer.isBuffer(details)) {
    const error = toGrpcError(Errors.library(code, message));
    [message, details] = [error.details, error.metadata.get(STATUS_DETAILS_KEY)[0]];
  }
  const fields: Record<string, string> = {
    'grpc-status': String(code),
    'grpc-message': encodeGrpcMessage(message),
  };
  if (Buffer.isBuffer(details)) fields[STATUS_DETAILS_KEY] = details.toString('base64');
  const body = Buffer.concat([...(payload ? [frame(DATA_FRAME, payload)] : []), trailerFrame(fields)]);
  noteGrpcWebCode(res, code);
  res.status(200);
  res.setHeader('Content-Type', text ? 'application/grpc-web-text+proto' : 'application/grpc-web+proto');
  res.end(text ? body.toString('base64') : body);
}

function answerError(res: Response, text: boolean, error: AppError) {
  const { code, details, metadata } = toGrpcError(error);
  answer(res, text, code, details, undefined, metadata);
}

/** The last resort for a throw in the bridge: INTERNAL with a correlation id, never a crash. */
function failed(req: Request, res: Response, text: boolean, logger: GrpcWebBridgeOptions['logger'], error: unknown) {
  const correlationId = randomUUID();
  // its message may quote a header (grpc-js's do): only the kind of error is logged
  const kind = error instanceof Error ? error.name : typeof error;
  logger.error({ correlationId, path: boundText(req.path, 200), kind }, 'gRPC-web bridge failed');
  if (res.headersSent) res.destroy();
  else answerError(res, text, Errors.internal(correlationId));
}
