import { spawnSync } from 'node:child_process';
import { join } from 'node:path';

/** Runs `ending` in a child process after three info lines went to stdoutDestination; its stdout lines. */
function linesWrittenBy(ending: string): { lines: string[]; signal: NodeJS.Signals | null } {
  const script = `
    const { createRootLogger, stdoutDestination } = require(${JSON.stringify(join(__dirname, '../../src/common/logging/logging.ts'))});
    const root = createRootLogger('info', stdoutDestination());
    for (let i = 0; i < 3; i++) root.info({ i }, 'line');
    ${ending}`;
  const child = spawnSync(process.execPath, ['-r', 'ts-node/register/transpile-only', '-e', script], {
    encoding: 'utf8',
    timeout: 20_000,
  });
  return { lines: child.stdout.split('\n').filter(Boolean), signal: child.signal };
}

describe('stdoutDestination (the log of `npm start`)', () => {
  it('buffers: lines not yet flushed die with a process that is killed at once', () => {
    expect(linesWrittenBy("process.kill(process.pid, 'SIGKILL')")).toEqual({ lines: [], signal: 'SIGKILL' });
  });

  it('writes what is buffered on process.exit', () => {
    const { lines } = linesWrittenBy('process.exit(0)');
    expect(lines.map((l) => JSON.parse(l).i)).toEqual([0, 1, 2]);
  });

  it("writes what is buffered on flush (Nest's shutdown), before the process ends by its signal", () => {
    const { lines, signal } = linesWrittenBy("root.flush(); process.kill(process.pid, 'SIGTERM')");
    expect(signal).toBe('SIGTERM');
    expect(lines).toHaveLength(3);
  });

  it('writes a quiet log within a second, without a flush', () => {
    const { lines } = linesWrittenBy("setTimeout(() => process.kill(process.pid, 'SIGKILL'), 1500)");
    expect(lines).toHaveLength(3);
  });
});
