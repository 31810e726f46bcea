import { ArgumentsHost, Catch, ExceptionFilter } from '@nestjs/common';
import type { Response } from 'express';
import { PinoLogger } from 'nestjs-pino';
import { toErrorBody } from './app-error';
import { GrpcStatus, httpStatusOf } from './grpc-status';
import { normalizeError } from './normalize-error';

/** Renders the contract's error body for every error raised on the HTTP transport. */
@Catch()
export class HttpErrorFilter implements ExceptionFilter {
  constructor(private readonly logger: PinoLogger) {
    logger.setContext(HttpErrorFilter.name);
  }

  catch(exception: unknown, host: ArgumentsHost): void {
    const error = normalizeError(exception, this.logger);
    const res = host.switchToHttp().getResponse<Response>();
    if (res.headersSent) return;
    if (error.code === GrpcStatus.UNAUTHENTICATED) res.setHeader('WWW-Authenticate', 'Bearer');
    if (error.extras.retryAfterMs !== undefined) {
      res.setHeader('Retry-After', String(Math.ceil(error.extras.retryAfterMs / 1000)));
    }
    res.status(httpStatusOf(error.code)).json(toErrorBody(error));
  }
}
