import { randomUUID } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { Params } from 'nestjs-pino';
import type { DestinationStream } from 'pino';

/** Paths that can carry secrets; pino replaces them before anything is written. */
export const REDACTED_PATHS = [
  'req.headers.authorization',
  'req.headers.cookie',
  'req.headers["x-api-key"]',
  'res.headers["set-cookie"]',
  '*.token',
  '*.code',
  '*.verificationCode',
  '*.phoneCode',
];

const REQUEST_ID = /^[A-Za-z0-9._-]{1,64}$/;

export function loggerParams(level: string, destination?: DestinationStream): Params {
  return {
    pinoHttp: {
      level,
      stream: destination,
      redact: { paths: REDACTED_PATHS, censor: '[redacted]' },
      genReqId: (req: IncomingMessage) => {
        const given = req.headers['x-request-id'];
        return typeof given === 'string' && REQUEST_ID.test(given) ? given : randomUUID();
      },
      serializers: {
        // the URL's query string is dropped: nothing secret belongs there, but nothing is logged from it either
        req: (req: { id: string; method: string; url: string }) => ({
          id: req.id,
          method: req.method,
          url: req.url.split('?')[0],
        }),
        // the status is what a request line needs; the response headers add nothing but cost
        res: (res: { statusCode: number }) => ({ statusCode: res.statusCode }),
      },
      autoLogging: true,
    },
  };
}
