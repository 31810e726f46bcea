import { pino } from 'pino';
import { Writable } from 'node:stream';
import { AppLogger, NestPinoLogger } from './app-logger';
import { createRootLogger } from './logging';
import { LoggingModule } from './logging.module';

function capture(level = 'trace') {
  const lines: Record<string, unknown>[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, done) {
      lines.push(
        ...chunk
          .toString('utf8')
          .split('\n')
          .filter(Boolean)
          .map((l) => JSON.parse(l)),
      );
      done();
    },
  });
  // pino writes synchronously to a plain Writable, so lines are there right after the call
  return { root: createRootLogger(level, stream), lines };
}

describe('AppLogger', () => {
  it('names its lines by context and takes an object, a message or both', () => {
    const { root, lines } = capture();
    const logger = new AppLogger(root);
    logger.setContext('SmsOutboxWorker');
    logger.info({ path: '/x' }, 'first start');
    logger.warn('plain message');
    logger.debug({ only: 'object' });
    expect(lines.map(({ level, context, msg, path, only }) => ({ level, context, msg, path, only }))).toEqual([
      { level: 30, context: 'SmsOutboxWorker', msg: 'first start', path: '/x', only: undefined },
      { level: 40, context: 'SmsOutboxWorker', msg: 'plain message', path: undefined, only: undefined },
      { level: 20, context: 'SmsOutboxWorker', msg: undefined, path: undefined, only: 'object' },
    ]);
  });

  it('redacts tokens and codes wherever they sit one level deep, and keeps the stack of an err', () => {
    const { root, lines } = capture();
    const logger = new AppLogger(root);
    logger.error({ err: new Error('boom'), sms: { code: '123456', token: 'abc' } }, 'failed');
    expect(lines[0].sms).toEqual({ code: '[redacted]', token: '[redacted]' });
    expect((lines[0].err as { stack: string }).stack).toContain('Error: boom\n    at ');
  });

  it('writes nothing below its level', () => {
    const { root, lines } = capture('warn');
    const logger = new AppLogger(root);
    logger.info('hidden');
    logger.debug({ a: 1 }, 'hidden');
    logger.error('shown');
    expect(lines.map((l) => l.msg)).toEqual(['shown']);
  });
});

describe('NestPinoLogger', () => {
  it("turns Nest's (message, …, context) calls into pino lines", () => {
    const { root, lines } = capture();
    const nest = new NestPinoLogger(root);
    nest.log('Nest application successfully started', 'NestApplication');
    nest.verbose('mapped', 'RoutesResolver');
    nest.warn({ detail: 1 }, 'Scanner');
    nest.error('it broke', 'Error: it broke\n    at somewhere', 'ExceptionsHandler');
    nest.error(new Error('thrown'));
    nest.fatal('gone');
    expect(lines.map(({ level, context, msg, stack, detail }) => ({ level, context, msg, stack, detail }))).toEqual([
      {
        level: 30,
        context: 'NestApplication',
        msg: 'Nest application successfully started',
        stack: undefined,
        detail: undefined,
      },
      { level: 10, context: 'RoutesResolver', msg: 'mapped', stack: undefined, detail: undefined },
      { level: 40, context: 'Scanner', msg: undefined, stack: undefined, detail: 1 },
      {
        level: 50,
        context: 'ExceptionsHandler',
        msg: 'it broke',
        stack: 'Error: it broke\n    at somewhere',
        detail: undefined,
      },
      { level: 50, context: undefined, msg: 'thrown', stack: undefined, detail: undefined },
      { level: 60, context: undefined, msg: 'gone', stack: undefined, detail: undefined },
    ]);
    expect((lines[4].err as { message: string }).message).toBe('thrown');
  });

  it("leaves out what Nest's start-up ExceptionHandler reports: the error is thrown to main.ts, which logs it once", () => {
    const { root, lines } = capture();
    new NestPinoLogger(root).error(new Error('database down'), undefined, 'ExceptionHandler');
    expect(lines).toEqual([]);
  });

  it('skips lines below the level without building them', () => {
    const root = pino({ level: 'info' });
    const spy = jest.spyOn(root, 'debug');
    new NestPinoLogger(root).debug('hidden', 'Ctx');
    expect(spy).not.toHaveBeenCalled();
  });
});

describe('LoggingModule', () => {
  it("flushes the root logger's buffered lines when the app shuts down", () => {
    const root = pino({ level: 'info' });
    const flush = jest.spyOn(root, 'flush').mockImplementation(() => undefined);
    new LoggingModule(root).onApplicationShutdown();
    expect(flush).toHaveBeenCalledTimes(1);
  });
});
