import type { NextFunction, Request, Response } from 'express';

const ALLOW_METHODS = 'GET, POST, PUT, PATCH, DELETE, OPTIONS';
const ALLOW_HEADERS = [
  'authorization',
  'content-type',
  'x-grpc-web',
  'x-user-agent',
  'grpc-timeout',
  'connect-protocol-version',
  'connect-timeout-ms',
  'connect-accept-encoding',
  'connect-content-encoding',
  'content-encoding',
  'accept-encoding',
  'x-zitadel-orgid',
  'x-request-id',
  'accept',
  'traceparent',
  'tracestate',
].join(', ');
const EXPOSE_HEADERS = [
  'grpc-status',
  'grpc-message',
  'grpc-status-details-bin',
  'retry-after',
  'www-authenticate',
  'x-request-id',
  'content-encoding',
].join(', ');
/** How long a browser may reuse a preflight's answer (Chromium caps it at 2 h). */
const MAX_AGE_SECONDS = '7200';

/**
 * CORS for every route of the HTTP port. `origins` is "*" (any origin may call with a bearer
 * token; no cookies are used, so credentials stay off) or a comma-separated list; an origin not
 * on it gets no CORS headers, so the browser keeps the answer from the page. Preflights are
 * answered 204 here, before any route.
 */
export function cors(origins: string) {
  const allowed = origins === '*' ? '*' : new Set(origins.split(',').map((o) => o.trim()));
  return (req: Request, res: Response, next: NextFunction): void => {
    const origin = req.headers.origin;
    const preflight = req.method === 'OPTIONS' && req.headers['access-control-request-method'] !== undefined;
    if (origin === undefined) return next();
    if (allowed !== '*') res.setHeader('Vary', 'Origin');
    const ok = allowed === '*' || allowed.has(origin);
    if (ok) {
      res.setHeader('Access-Control-Allow-Origin', allowed === '*' ? '*' : origin);
      res.setHeader('Access-Control-Expose-Headers', EXPOSE_HEADERS);
    }
    if (!preflight) return next();
    if (ok) {
      res.setHeader('Access-Control-Allow-Methods', ALLOW_METHODS);
      res.setHeader('Access-Control-Allow-Headers', ALLOW_HEADERS);
      res.setHeader('Access-Control-Max-Age', MAX_AGE_SECONDS);
    }
    res.statusCode = 204;
    res.setHeader('Content-Length', '0');
    res.end();
  };
}
