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
  'x-captcha-token',
  'idempotency-key',
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
  'idempotent-replayed',
  'content-encoding',
].join(', ');
/** How long a browser may reuse a preflight's answer (Chromium caps it at 2 h). */
const MAX_AGE_SECONDS = '7200';

/**
 * An origin as a browser sends it in `Origin` (scheme://host[:port], lower case, no default port,
 * no path): a setting written "https://App.example.com/" still matches the page's origin.
 */
function normalized(origin: string): string {
  try {
    return new URL(origin).origin;
  } catch {
    return origin;
  }
}

/**
 * CORS for every route of the HTTP port. `origins` is "*" (any origin may call with a bearer
 * token; no cookies are used, so credentials stay off) or a comma-separated list; an origin not
 * on it gets no CORS headers, so the browser keeps the answer from the page. Preflights are
 * answered 204 here, before any route. With a list, every answer varies by Origin, also one to a
 * request without it (a cache must not hand that answer, without CORS headers, to a page).
 */
export function cors(origins: string) {
  const allowed = origins === '*' ? '*' : new Set(origins.split(',').map((o) => normalized(o.trim())));
  return (req: Request, res: Response, next: NextFunction): void => {
    const origin = req.headers.origin;
    const preflight = req.method === 'OPTIONS' && req.headers['access-control-request-method'] !== undefined;
    if (allowed !== '*') res.setHeader('Vary', 'Origin');
    if (origin === undefined) return next();
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
    // a 204 has no body and no Content-Length (RFC 9110 §8.6)
    res.statusCode = 204;
    res.end();
  };
}
