import { until } from './support/wait';
import {
  buildIfNeeded,
  killIfRunning,
  portClosed,
  processGone,
  removeDir,
  serverEnv,
  ServerProcess,
} from './support/server-process';

/**
 * Process managers and container runtimes signal the process they started. Started the way a user
 * starts it, `npm start` must pass SIGTERM on to the server: no server may be left behind
 * (re-parented and still serving) when npm is gone.
 */
describe('npm start', () => {
  let npm: ServerProcess | undefined;
  let serverPid: number | undefined;
  let dir: string | undefined;

  beforeAll(() => buildIfNeeded(), 240_000);
  afterAll(async () => {
    await npm?.kill();
    killIfRunning(serverPid);
    removeDir(dir);
  });

  it('stops the server when npm gets SIGTERM', async () => {
    const settings = await serverEnv({ SHUTDOWN_TIMEOUT: '5s' });
    dir = settings.dir;
    npm = new ServerProcess('npm', ['start'], settings.env);
    const listening = await npm.record('the listening line', (r) => /^listening on /.test(r.msg ?? ''));
    serverPid = listening.pid as number;
    expect(serverPid).not.toBe(npm.pid);
    expect(processGone(serverPid)).toBe(false);
    expect(await portClosed(settings.port)).toBe(false);

    npm.signal('SIGTERM');
    await until('the server process to be gone', () => processGone(serverPid!), 20_000);
    expect(await portClosed(settings.port)).toBe(true);
    expect(await portClosed(settings.grpcPort)).toBe(true);
    // npm itself ends too, and the server said it stopped cleanly
    await until('npm to exit', () => npm!.exitedAt !== undefined, 20_000);
    expect(
      npm
        .records()
        .filter((r) => r.msg === 'shutdown complete')
        .map((r) => r.exitCode),
    ).toEqual([0]);
  }, 120_000);
});
