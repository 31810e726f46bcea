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
 * stdout for the log, in synchronous writes of at least 4 KB (about 20 request lines) and at least
 * once a second. A write per line cost ~5 % of a GetUserByID's CPU; pino's asynchronous stdout
 * stream hands the file at most 16 KB per event-loop turn, so under load its queue of unwritten
 * lines grew for as long as the load lasted (3 MB after 90 s of VerifyPhone). What is still
 * buffered is written on `process.exit` here, and on Nest's shutdown by LoggingModule.
 */
export function stdoutDestination(): DestinationStream & { flushSync(): void } {
  const stream = destination({ dest: 1, sync: true, minLength: 4096, periodicFlush: 1000 });
  process.once('exit', () => stream.flushSync());
  return stream;
}
