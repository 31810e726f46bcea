import { randomUUID } from 'node:crypto';
import type { NextFunction, Request, Response } from 'express';
import type { Logger } from 'pino';
import { endHttpSpan, startHttpSpan } from '../tracing/server-spans';
import { DISABLED, Tracing } from '../tracing/tracing';
import type { RequestMetrics } from '../metrics/request-metrics';

const REQUEST_ID = /^[A-Za-z0-9._-]{1,64}$/;

/** A request as the request log leaves it: with the id its line carries. */
type IdentifiedRequest = Request & { id?: string };

/** The caller's `x-request-id` when it is a plain token of at most 64 characters, else a new UUID. */
function requestIdOf(req: Request): string {
  const given = req.headers['x-request-id'];
  return typeof given === 'string' && REQUEST_ID.test(given) ? given : randomUUID();
}

/** The request's id as the request log wrote it (also for the error filter's log lines). */
export function idOf(req: Request): string | undefined {
  return (req as IdentifiedRequest).id;
}

/**
 * One line per HTTP request when its response is done, without query string, headers or body; the
 * same hook counts it in the request series. By hand, not pino-http: that cost far more (ADR 0020).
 */
export function requestLog(root: Logger, tracing: Tracing = DISABLED, metrics?: RequestMetrics) {
  // fixed fields that hold no secret: written without the root logger's redaction pass (ADR 0020)
  const logger = root.child({}, { redact: { paths: [], censor: '' } });
  return (req: Request, res: Response, next: NextFunction): void => {
    const started = performance.now();
    const id = requestIdOf(req);
    (req as IdentifiedRequest).id = id;
    const trace = tracing.enabled ? startHttpSpan(tracing, req) : undefined;
    // an answer finished on a socket the client already closed never reached it
    // (a response emits each of the two once: plain listeners, without once's wrappers)
    let delivered = false;
    res.on('finish', () => (delivered = req.socket?.destroyed !== true));
    res.on('close', () => {
      const [level, msg] = !delivered
        ? (['warn', 'request aborted'] as const)
        : res.statusCode >= 500
          ? (['error', 'request errored'] as const)
          : (['info', 'request completed'] as const);
      if (trace) endHttpSpan(trace, req, res.statusCode);
      metrics?.observeHttp(req, res, (performance.now() - started) / 1000, !delivered);
      if (!logger.isLevelEnabled(level)) return;
      const url = req.originalUrl ?? req.url;
      const query = url.indexOf('?');
      const line = {
        req: { id, method: req.method, url: query < 0 ? url : url.slice(0, query) },
        res: { statusCode: res.statusCode },
        responseTime: Math.round(performance.now() - started),
      };
      logger[level](
        trace ? { ...line, trace_id: trace.traceId, span_id: trace.span?.spanContext().spanId } : line,
        msg,
      );
    });
    next();
  };
}
