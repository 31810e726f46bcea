import type { NextFunction, Request, RequestHandler, Response } from 'express';
import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import { boundText } from '../errors/bounded-text';
import { Errors } from '../errors/errors';
import { ConnectProtocol } from './connect';
import { answerError, answerGrpcWeb, ANY_GRPC_WEB } from './grpc-web';
import type { RpcHandlers } from './rpc-handlers';

/** An RPC's HTTP path: `/<package>.<Service>/<Method>`. */
const SERVICE_PATH = /^\/(zitadel\.[a-z0-9.]+\.[A-Za-z]+Service|grpc\.health\.v1\.Health)\/[A-Za-z]+$/;

export interface RpcOverHttpOptions {
  handlers: RpcHandlers;
  bodyLimit: number;
  logger: Pick<Logger, 'error'>;
}

/**
 * gRPC-web and Connect on the HTTP port, both run in process on the gRPC server's handlers. A
 * gRPC-web content type is answered in gRPC-web whatever the path; any other request to an RPC's
 * path is a Connect call; the rest is REST's. Whatever throws here is answered INTERNAL with a
 * correlation id, never left to crash the process.
 */
export function rpcOverHttp(options: RpcOverHttpOptions): RequestHandler {
  const connect = new ConnectProtocol(options.handlers, options.bodyLimit);
  return (req: Request, res: Response, next: NextFunction) => {
    const grpcWeb = ANY_GRPC_WEB.test(req.headers['content-type'] ?? '');
    if (!grpcWeb && !SERVICE_PATH.test(req.path)) return next();
    const answered = grpcWeb ? answerGrpcWeb(options.handlers, options.bodyLimit, req, res) : connect.answer(req, res);
    answered.catch((error: unknown) => {
      const correlationId = randomUUID();
      // its message may quote a header: only the kind of error is logged
      const kind = error instanceof Error ? error.name : typeof error;
      options.logger.error({ correlationId, path: boundText(req.path, 200), kind }, 'RPC over HTTP failed');
      answerError(req, res, /grpc-web-text/i.test(req.headers['content-type'] ?? ''), Errors.internal(correlationId));
    });
  };
}
