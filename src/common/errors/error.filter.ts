import { ArgumentsHost, Catch, ExceptionFilter } from '@nestjs/common';
import type { Response } from 'express';
import { PinoLogger } from 'nestjs-pino';
import { Observable, throwError } from 'rxjs';
import { statusMetadata } from '../grpc/status-details';
import { AppError, toErrorBody } from './app-error';
import { GrpcStatus, httpStatusOf } from './grpc-status';
import { normalizeError } from './normalize-error';

/**
 * The one filter for every transport: REST gets the contract's JSON error body; gRPC (and so
 * gRPC-web, which is bridged to it) gets the status code, "<text> (<ID>)" and the same details
 * in grpc-status-details-bin.
 */
@Catch()
export class AppErrorFilter implements ExceptionFilter {
  constructor(private readonly logger: PinoLogger) {
    logger.setContext(AppErrorFilter.name);
  }

  catch(exception: unknown, host: ArgumentsHost): void | Observable<never> {
    const error = normalizeError(exception, this.logger);
    if (host.getType() === 'rpc') return throwError(() => toGrpcError(error));
    const res = host.switchToHttp().getResponse<Response>();
    if (res.headersSent) return;
    if (error.code === GrpcStatus.UNAUTHENTICATED) res.setHeader('WWW-Authenticate', 'Bearer');
    if (error.extras.retryAfterMs !== undefined) {
      res.setHeader('Retry-After', String(Math.ceil(error.extras.retryAfterMs / 1000)));
    }
    res.status(httpStatusOf(error.code)).json(toErrorBody(error));
  }
}

/** What grpc-js sends as the call's status: code, grpc-message and trailers. */
export function toGrpcError(error: AppError) {
  const body = toErrorBody(error);
  return {
    code: error.code,
    message: body.message,
    details: body.message,
    metadata: statusMetadata(error, body.details),
  };
}
