import type { INestApplication } from '@nestjs/common';
import type { Logger } from 'pino';
import { GracefulShutdown } from './graceful-shutdown';
import { HttpDrain } from './http-drain';
import { Readiness } from './readiness';

/** A drain that ends only when its connections are cut (a client that never finishes). */
class StuckDrain {
  cuts = 0;
  private end?: () => void;
  drain(): Promise<void> {
    return new Promise((resolve) => (this.end = resolve));
  }
  cut(): number {
    this.cuts++;
    this.end?.();
    return 2;
  }
}

describe(GracefulShutdown.name, () => {
  beforeEach(() => jest.useFakeTimers());
  afterEach(() => jest.useRealTimers());

  function setUp(close: () => Promise<void>) {
    const lines: Array<{ level: string; fields: Record<string, unknown>; msg: string }> = [];
    const logger = {
      info: (fields: Record<string, unknown>, msg: string) => lines.push({ level: 'info', fields, msg }),
      error: (fields: Record<string, unknown>, msg: string) => lines.push({ level: 'error', fields, msg }),
    } as unknown as Logger;
    const exits: number[] = [];
    const http = new StuckDrain();
    const readiness = new Readiness();
    const shutdown = new GracefulShutdown({
      app: { close } as unknown as INestApplication,
      http: http as unknown as HttpDrain,
      readiness,
      logger,
      timeoutMs: 10_000,
      exit: (code) => exits.push(code),
    });
    return { shutdown, lines, exits, http, readiness };
  }

  it('is not ready at once, cuts stuck connections at 80 % of the timeout, closes the app and exits 0', async () => {
    let closed = false;
    const { shutdown, lines, exits, http, readiness } = setUp(async () => {
      closed = true;
    });
    void shutdown.run('SIGTERM');
    expect(readiness.stopping).toBe(true);
    expect(lines.map((l) => l.msg)).toEqual(['shutdown started']);
    await jest.advanceTimersByTimeAsync(7_999);
    expect([http.cuts, closed, exits]).toEqual([0, false, []]);
    await jest.advanceTimersByTimeAsync(1);
    expect([http.cuts, closed, exits]).toEqual([1, true, [0]]);
    expect(lines.map((l) => [l.level, l.msg])).toEqual([
      ['info', 'shutdown started'],
      ['info', 'shutdown complete'],
    ]);
    expect(lines[1].fields).toMatchObject({ connectionsCut: 2, exitCode: 0 });
  });

  it('exits 1 at the timeout when the app does not finish closing, with one end line', async () => {
    const { shutdown, lines, exits } = setUp(() => new Promise<void>(() => undefined));
    void shutdown.run('SIGTERM');
    void shutdown.run('SIGINT'); // a second signal changes nothing
    await jest.advanceTimersByTimeAsync(9_999);
    expect(exits).toEqual([]);
    await jest.advanceTimersByTimeAsync(1);
    expect(exits).toEqual([1]);
    await jest.advanceTimersByTimeAsync(60_000);
    expect(exits).toEqual([1]);
    expect(lines.map((l) => [l.level, l.msg])).toEqual([
      ['info', 'shutdown started'],
      ['error', 'shutdown complete'],
    ]);
    expect(lines[0].fields).toMatchObject({ signal: 'SIGTERM', timeoutMs: 10_000 });
    expect(lines[1].fields).toMatchObject({ deadlineHit: 'app', exitCode: 1 });
  });
});
