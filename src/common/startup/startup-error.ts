import type { Logger } from 'pino';
import { ConfigError } from '../config/config-error';

/**
 * Why the service cannot start, told as an operator fixes it: the message names the setting to
 * look at, `fields` (setting, reason, …) go into the log line. No stack: the cause is known.
 */
export class StartupError extends Error {
  constructor(
    message: string,
    readonly fields: { setting: string } & Record<string, unknown>,
  ) {
    super(message);
    this.name = 'StartupError';
  }
}

/** The one JSON line of a start that failed (main.ts exits 1 after it). */
export function logStartupFailure(logger: Logger, error: unknown): void {
  if (error instanceof StartupError) {
    logger.fatal(error.fields, `cannot start: ${error.message}`);
  } else if (error instanceof ConfigError) {
    logger.fatal(
      { settings: error.settings, problems: error.problems },
      `cannot start: invalid configuration: ${error.problems.join('; ')}`,
    );
  } else {
    // not foreseen: the stack is what helps
    const message = error instanceof Error ? error.message : String(error);
    logger.fatal({ err: error }, `cannot start: ${message}`);
  }
}
