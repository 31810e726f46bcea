import type { Metadata } from '@grpc/grpc-js';
import type { Request, Response } from 'express';
import { AppError } from '../errors/app-error';
import { toGrpcError } from '../errors/error.filter';
import { Errors } from '../errors/errors';
import { GrpcStatus } from '../errors/grpc-status';
import {
  encodeGrpcMessage,
  frame,
  FrameError,
  DATA_FRAME,
  readUnaryMessage,
  trailerFrame,
} from '../grpc/grpc-web-frames';
import { TIMEOUT_FORMAT } from '../grpc/library-status';
import { STATUS_DETAILS_KEY } from '../grpc/status-details';
import type { RpcHandlers } from './rpc-handlers';
import { answeredWith, callInProcess, countAs, metadataOf, readBody } from './rpc-http';

const CONTENT_TYPE = /^application\/grpc-web(-text)?(\+proto)?\s*(;.*)?$/i;
/** Any gRPC-web content type, served or not (+json, say): the caller expects a gRPC-web answer. */
export const ANY_GRPC_WEB = /^application\/grpc-web/i;

/** grpc-timeout: 1 to 8 digits and a unit. */
function parseTimeout(value: string): number | undefined {
  const match = /^(\d{1,8})([HMSmun])$/.exec(value);
  if (!match) return undefined;
  const unitMs = { H: 3_600_000, M: 60_000, S: 1000, m: 1, u: 0.001, n: 0.000001 }[match[2] as 'H'];
  return Number(match[1]) * unitMs;
}

/**
 * gRPC-web on the HTTP port: unframes the browser's call, runs it in process on the handler the
 * gRPC server has for the method (same guard, validation and error rendering), and frames the
 * answer and trailers back. A malformed call gets INVALID_ARGUMENT here and reaches no handler.
 */
export async function answerGrpcWeb(
  handlers: RpcHandlers,
  bodyLimit: number,
  req: Request,
  res: Response,
): Promise<void> {
  const contentType = req.headers['content-type'] ?? '';
  const text = /grpc-web-text/i.test(contentType);
  const rpc = handlers.get(req.path);
  countAs(res, 'grpc_web', rpc, req);
  const refuse = (error: AppError) => answerError(req, res, text, error);
  if (req.method !== 'POST') {
    return refuse(new AppError(GrpcStatus.UNIMPLEMENTED, 'API-unimpl', `gRPC-web calls use POST, not ${req.method}`));
  }
  if (!CONTENT_TYPE.test(contentType)) {
    const why = `content-type must be application/grpc-web+proto, got "${contentType}"`;
    return refuse(Errors.validation([{ field: 'content-type', description: why }]));
  }
  if (!rpc) return refuse(Errors.unimplemented(`method ${req.path}`));
  const body = await readBody(req, bodyLimit);
  if (body === undefined) return;
  if (body instanceof AppError) return refuse(body);
  // the message itself is decoded once, by the call (bytes that are no request: INVALID_ARGUMENT there, as on gRPC)
  let message: Buffer;
  try {
    message = readUnaryMessage(text ? Buffer.from(body.toString('latin1'), 'base64') : body);
  } catch (error) {
    if (!(error instanceof FrameError)) throw error;
    return refuse(Errors.validation([{ field: 'body', description: `malformed gRPC-web request: ${error.message}` }]));
  }
  const metadata = metadataOf(req);
  if (metadata instanceof AppError) return refuse(metadata);
  const timeoutHeader = req.headers['grpc-timeout'];
  const timeout = typeof timeoutHeader === 'string' ? parseTimeout(timeoutHeader) : undefined;
  if (timeoutHeader !== undefined && timeout === undefined) {
    return refuse(Errors.validation([{ field: 'grpc-timeout', description: TIMEOUT_FORMAT }]));
  }
  const outcome = await callInProcess(
    rpc,
    message,
    req,
    res,
    metadata,
    timeout === undefined ? undefined : Date.now() + timeout,
  );
  if (res.destroyed) return;
  if (outcome.ok) answer(req, res, text, GrpcStatus.OK, '', outcome.response);
  else answer(req, res, text, outcome.code, outcome.details, undefined, outcome.metadata);
}

/** The answer frames: the message if any, then the trailers (with the documented details on an error). */
function answer(
  req: Request,
  res: Response,
  text: boolean,
  code: number,
  message: string,
  payload?: Buffer,
  trailers?: Metadata,
) {
  const details = trailers?.get(STATUS_DETAILS_KEY)[0];
  const fields: Record<string, string> = {
    'grpc-status': String(code),
    'grpc-message': encodeGrpcMessage(message),
  };
  if (Buffer.isBuffer(details)) fields[STATUS_DETAILS_KEY] = details.toString('base64');
  const body = Buffer.concat([...(payload ? [frame(DATA_FRAME, payload)] : []), trailerFrame(fields)]);
  answeredWith(req, res, code);
  res.status(200);
  res.setHeader('Content-Type', text ? 'application/grpc-web-text+proto' : 'application/grpc-web+proto');
  res.end(text ? body.toString('base64') : body);
}

export function answerError(req: Request, res: Response, text: boolean, error: AppError) {
  if (res.headersSent) return void res.destroy();
  const { code, details, metadata } = toGrpcError(error);
  answer(req, res, text, code, details, undefined, metadata);
}
