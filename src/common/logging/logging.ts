import { destination, pino, type DestinationStream, type Logger } from 'pino';

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

/** The app's one pino logger: JSON lines to `destination` (stdout by default), secrets redacted. */
export function createRootLogger(level: string, destination?: DestinationStream): Logger {
  const options = { level, redact: { paths: REDACTED_PATHS, censor: '[redacted]' } };
  return destination ? pino(options, destination) : pino(options);
}

/**
 * stdout in synchronous writes of at least 4 KB, at least once a second: few writes, and a bounded
 * buffer (ADR 0020). The rest is written on `process.exit` and on Nest's shutdown.
 */
export function stdoutDestination(): DestinationStream & { flushSync(): void } {
  const stream = destination({ dest: 1, sync: true, minLength: 4096, periodicFlush: 1000 });
  process.once('exit', () => stream.flushSync());
  return stream;
}
