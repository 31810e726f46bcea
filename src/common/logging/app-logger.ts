import { Inject, Injectable, LoggerService, Scope } from '@nestjs/common';
import type { Level, Logger } from 'pino';

/** The injection token of the app's root pino logger (see LoggingModule). */
export const ROOT_LOGGER = Symbol('ROOT_LOGGER');

type LogMethod = (objOrMsg: object | string, msg?: string) => void;

/**
 * The logger services inject: one per consumer (transient), named by `setContext`, writing
 * `{"context":"<name>", …}` lines through the app's root pino logger.
 */
@Injectable({ scope: Scope.TRANSIENT })
export class AppLogger {
  private logger: Logger;

  constructor(@Inject(ROOT_LOGGER) private readonly root: Logger) {
    this.logger = root;
  }

  setContext(name: string): void {
    this.logger = this.root.child({ context: name });
  }

  readonly trace: LogMethod = (objOrMsg, msg) => this.write('trace', objOrMsg, msg);
  readonly debug: LogMethod = (objOrMsg, msg) => this.write('debug', objOrMsg, msg);
  readonly info: LogMethod = (objOrMsg, msg) => this.write('info', objOrMsg, msg);
  readonly warn: LogMethod = (objOrMsg, msg) => this.write('warn', objOrMsg, msg);
  readonly error: LogMethod = (objOrMsg, msg) => this.write('error', objOrMsg, msg);

  private write(level: Exclude<Level, 'fatal'>, objOrMsg: object | string, msg?: string) {
    if (typeof objOrMsg === 'string') this.logger[level](objOrMsg);
    else this.logger[level](objOrMsg, msg);
  }
}

/**
 * Nest's own messages (start-up, route mapping, its errors) through the same pino logger:
 * `log` is info, `verbose` is trace; a trailing string argument is Nest's context name.
 */
@Injectable()
export class NestPinoLogger implements LoggerService {
  constructor(@Inject(ROOT_LOGGER) private readonly root: Logger) {}

  log(message: unknown, ...params: unknown[]) {
    this.write('info', message, params);
  }
  error(message: unknown, ...params: unknown[]) {
    this.write('error', message, params);
  }
  warn(message: unknown, ...params: unknown[]) {
    this.write('warn', message, params);
  }
  debug(message: unknown, ...params: unknown[]) {
    this.write('debug', message, params);
  }
  verbose(message: unknown, ...params: unknown[]) {
    this.write('trace', message, params);
  }
  fatal(message: unknown, ...params: unknown[]) {
    this.write('fatal', message, params);
  }

  private write(level: Level, message: unknown, params: unknown[]) {
    if (!this.root.isLevelEnabled(level)) return;
    const rest = [...params];
    const context = rest.length > 0 && typeof rest[rest.length - 1] === 'string' ? rest.pop() : undefined;
    // what Nest's ExceptionHandler reports it also throws (createApp sets abortOnError: false), and
    // whoever catches it logs it once: main.ts as "cannot start: …", with the setting to fix
    if (context === 'ExceptionHandler') return;
    // Nest passes an error's stack as the string before the context
    const stack = level === 'error' && typeof rest[0] === 'string' ? rest.shift() : undefined;
    const fields: Record<string, unknown> = {};
    if (context) fields.context = context;
    if (stack) fields.stack = stack;
    if (message instanceof Error) this.root[level]({ ...fields, err: message }, message.message);
    else if (typeof message === 'object' && message !== null) this.root[level]({ ...fields, ...message });
    else this.root[level](fields, String(message));
  }
}
