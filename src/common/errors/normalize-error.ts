import { HttpException } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import { AppError } from './app-error';
import { databaseFault, DependencyError } from './dependency-error';
import { Errors } from './errors';
import { grpcStatusOfHttp } from './grpc-status';

export interface ErrorLogger {
  error(obj: object, msg: string): void;
}

/** Where dependency faults are counted (DependencyOutages): logged once per outage, not per request. */
export interface OutageReporter {
  failed(error: DependencyError): void;
}

/** The IDs and texts of what the HTTP stack refuses (here, and in http-client-errors.ts for Node's parser). */
export const HTTP_ERROR_IDS: Record<number, [string, string]> = {
  404: ['API-n0tfd', 'Route not found'],
  408: ['API-t1meout', 'Request was not received in time'],
  413: ['API-t00big', 'Request body is too large'],
  431: ['API-hdr2big', 'Request header fields are too large'],
};

/** What the HTTP stack refused, with its own status where the gRPC code's would be another (413, 415). */
function refusedByHttp(status: number, text: string): AppError {
  if (status === 415) return Errors.unsupportedMediaType();
  const known = HTTP_ERROR_IDS[status];
  const [id, message] = known ?? ['API-badreq', text];
  return new AppError(grpcStatusOfHttp(status), id, message, known ? { http: { status } } : {});
}

/** Body-parser errors carry `type` and `status`; they reach the filter as plain errors. */
function bodyParserError(exception: unknown): { status: number; type: string } | undefined {
  if (exception && typeof exception === 'object' && 'type' in exception) {
    const e = exception as { type: unknown; status?: unknown; statusCode?: unknown };
    const status = Number(e.status ?? e.statusCode);
    if (typeof e.type === 'string' && status >= 400 && status < 500) return { status, type: e.type };
  }
  return undefined;
}

/**
 * Turns anything thrown into the one application error. Client mistakes keep their meaning; a
 * dependency that could not answer (classified by its adapter, or the database's errors by
 * databaseFault) is UNAVAILABLE with Retry-After; everything else is unexpected and becomes
 * INTERNAL with a correlation id, logged here with its stack.
 */
export function normalizeError(exception: unknown, logger: ErrorLogger, outages?: OutageReporter): AppError {
  if (exception instanceof AppError) return exception;

  const fault = exception instanceof DependencyError ? exception : databaseFault(exception);
  if (fault) {
    if (outages) outages.failed(fault);
    else logger.error({ dependency: fault.dependency, cause: fault.message }, 'dependency unavailable');
    return Errors.unavailable();
  }

  const parserError = bodyParserError(exception);
  if (parserError) {
    if (parserError.type === 'entity.parse.failed') {
      return Errors.validation([{ field: 'body', description: 'malformed JSON' }]);
    }
    return refusedByHttp(parserError.status, 'Bad request');
  }

  if (exception instanceof HttpException) {
    const status = exception.getStatus();
    if (status === 400) return Errors.validation([{ field: 'body', description: exception.message }]);
    if (status < 500) return refusedByHttp(status, exception.message);
  }

  const correlationId = randomUUID();
  logger.error({ err: exception, correlationId }, 'unexpected error');
  return Errors.internal(correlationId);
}
