import { ArgumentsHost, Catch, ExceptionFilter, NotFoundException } from '@nestjs/common';
import type { Request, Response } from 'express';
import { AppLogger } from '../logging/app-logger';
import { idOf } from '../logging/request-log';
import { from, mergeMap, Observable, throwError } from 'rxjs';
import { CALLER, callerHolder } from '../auth/caller.decorator';
import { Errors } from './errors';
import { statusMetadata } from '../grpc/status-details';
import { AppError, toErrorBody } from './app-error';
import { DependencyOutages } from './dependency-outages';
import { GrpcStatus, httpStatusOf } from './grpc-status';
import { normalizeError } from './normalize-error';
import { noteRestCode } from '../metrics/request-metrics';
import { answerJson } from '../http/json-response';
import { RouteMethods } from '../http/route-methods';

/**
 * The one filter for every transport (ADR 0018): REST gets the JSON error body; gRPC, and through
 * it gRPC-web and Connect, the status, "<text> (<ID>)" and the same details.
 */
@Catch()
export class AppErrorFilter implements ExceptionFilter {
  constructor(
    private readonly logger: AppLogger,
    private readonly outages: DependencyOutages,
    private readonly routes: RouteMethods,
  ) {
    logger.setContext(AppErrorFilter.name);
  }

  catch(exception: unknown, host: ArgumentsHost): void | Observable<never> {
    const ref = callerHolder(host)[CALLER];
    if (!ref || (exception instanceof AppError && exception.code === GrpcStatus.UNAUTHENTICATED)) {
      return this.answer(exception, host);
    }
    // an error answered before the caller was known (a request that failed validation, say): an
    // unknown token is answered 401 first, as if the guard had looked it up; a lookup that cannot
    // be made is the answer itself (503)
    const settled = ref.authenticates().then(
      (known) => (known === false ? Errors.unauthenticated() : exception),
      (fault: unknown) => fault,
    );
    if (host.getType() === 'rpc') return from(settled).pipe(mergeMap((error) => this.answer(error, host)!));
    void settled.then((error) => this.answer(error, host));
  }

  private answer(exception: unknown, host: ArgumentsHost): void | Observable<never> {
    if (host.getType() === 'rpc') {
      return throwError(() => toGrpcError(normalizeError(exception, this.logger, this.outages)));
    }
    const req = host.switchToHttp().getRequest<Request>();
    // an unexpected error's line carries the id of the request's own log line
    const reqId = idOf(req);
    const logger = { error: (obj: object, msg: string) => this.logger.error({ ...obj, reqId }, msg) };
    const error = normalizeError(this.wrongMethod(exception, req) ?? exception, logger, this.outages);
    const res = host.switchToHttp().getResponse<Response>();
    if (res.headersSent) return;
    if (error.code === GrpcStatus.UNAUTHENTICATED) res.setHeader('WWW-Authenticate', 'Bearer');
    if (error.extras.retryAfterMs !== undefined) {
      res.setHeader('Retry-After', String(Math.ceil(error.extras.retryAfterMs / 1000)));
    }
    for (const [name, value] of Object.entries(error.extras.http?.headers ?? {})) res.setHeader(name, value);
    noteRestCode(res, error.code);
    answerJson(res, error.extras.http?.status ?? httpStatusOf(error.code), toErrorBody(error));
  }

  /** The router's "no route": 405 where the path is ours and only the method is not. */
  private wrongMethod(exception: unknown, req: Request): AppError | undefined {
    if (!(exception instanceof NotFoundException)) return undefined;
    const allowed = this.routes.allowedAt(req.path);
    return allowed.length > 0 ? Errors.methodNotAllowed(allowed) : undefined;
  }
}

/**
 * What grpc-js sends as the call's status: code, grpc-message and trailers. `error` stays with it
 * for the in-process transports (Connect renders the same error as JSON); grpc-js ignores it.
 */
export function toGrpcError(error: AppError) {
  const body = toErrorBody(error);
  return {
    code: error.code,
    message: body.message,
    details: body.message,
    metadata: statusMetadata(error, body.details),
    error,
  };
}
