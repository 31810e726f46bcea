import { dirname, join } from 'node:path';
import { startApp, TestApp } from './test-app';

/**
 * nestjs-pino 5 builds one pino-http instance per process, on the first app's settings, and every
 * later app reuses it: a second app in the same test file would log into the first app's stream.
 * Its test-only reset is not exported through the package's `exports`, hence the file path.
 */
function resetPinoRoot(): void {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const pinoLogger = require(join(dirname(require.resolve('nestjs-pino')), 'PinoLogger.js')) as {
    __resetOutOfContextForTests(): void;
  };
  pinoLogger.__resetOutOfContextForTests();
}

/** startApp, with `logs` holding this app's log lines even when it is not the file's first app. */
export function startAppWithOwnLog(...args: Parameters<typeof startApp>): Promise<TestApp> {
  resetPinoRoot();
  return startApp(...args);
}
