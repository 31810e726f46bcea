import { Global, Module } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { existsSync, lstatSync, mkdtempSync, readFileSync, realpathSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { SQLITE_INSTANCE_LOCK } from '../src/database/database.module';
import { SmsBackoffAdmin, SmsBackoffAdminModule } from '../src/phone/admin/sms-backoff-admin';
import { freePort, startApp } from './support/test-app';
import { until } from './support/wait';
import { buildIfNeeded, removeDir, serverEnv, ServerProcess } from './support/server-process';

/**
 * Issue 28, point 5: two instances on one SQLite file made each other's writes fail (SQLITE_BUSY,
 * 503). A second instance refuses to start, in one fatal line naming DATABASE_URL, and the first
 * goes on serving; once the first is killed (kill -9, so nothing is cleaned up), the next starts.
 */
describe('one instance per SQLite file', () => {
  const started: ServerProcess[] = [];
  const dirs: string[] = [];

  beforeAll(() => buildIfNeeded(), 240_000);
  afterAll(async () => {
    for (const server of started) await server.kill();
    dirs.forEach(removeDir);
  });

  /** Another server on the same settings (the same file), on ports of its own. */
  async function start(env: Record<string, string>): Promise<ServerProcess & { port: number }> {
    const port = await freePort();
    const own = { ...env, PORT: String(port), GRPC_PORT: String(await freePort()) };
    const server = Object.assign(new ServerProcess(process.execPath, ['dist/src/main.js'], own), { port });
    started.push(server);
    return server;
  }

  const listening = (server: ServerProcess) =>
    server.record('the listening line', (r) => /^listening on /.test(r.msg ?? ''), 60_000);

  async function exitOf(server: ServerProcess) {
    await until('the process to exit', () => server.exitedAt !== undefined, 60_000);
    return server.exited;
  }

  /** `count` users created at once, as clients would: the statuses they got. */
  async function writes(port: number, token: string, count: number, tag: string): Promise<number[]> {
    return Promise.all(
      Array.from({ length: count }, async (_, i) => {
        const res = await fetch(`http://127.0.0.1:${port}/v2/users/human`, {
          method: 'POST',
          headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json' },
          body: JSON.stringify({
            profile: { givenName: 'Ann', familyName: 'Lock' },
            email: { email: `lock.${tag}.${i}@example.com`, isVerified: true },
          }),
          signal: AbortSignal.timeout(30_000),
        });
        return res.status;
      }),
    );
  }

  it('refuses a second instance on the file in one fatal line; the first keeps serving; a kill -9 leaves no lock behind', async () => {
    const settings = await serverEnv();
    dirs.push(settings.dir);
    const first = await start(settings.env);
    await listening(first);
    const token = readFileSync(settings.env.FIRST_INSTANCE_PAT_PATH, 'utf8').trim();
    const lock = `${realpathSync(settings.env.DATABASE_URL)}.lock`;

    const second = await start(settings.env);
    expect((await exitOf(second)).code).toBe(1);
    const records = second.records();
    expect(records).toHaveLength(second.lines.length);
    const fatal = records.filter((r) => r.level === 60);
    expect(fatal).toHaveLength(1);
    expect(records[records.length - 1]).toBe(fatal[0]);
    expect(fatal[0]).toMatchObject({ setting: 'DATABASE_URL', lock, pid: first.pid, attempts: 1 });
    expect(fatal[0].msg).toBe(
      `cannot start: DATABASE_URL (SQLite file ${settings.env.DATABASE_URL}): another instance uses that file ` +
        `(pid ${first.pid}); stop it, or give each instance a file of its own`,
    );

    // the first one answers every write, as before the second tried
    expect(await writes(first.port, token, 20, 'first')).toEqual(Array(20).fill(200));

    first.signal('SIGKILL');
    expect((await exitOf(first)).signal).toBe('SIGKILL');
    // the socket file is still there; nobody listens on it
    expect(lstatSync(lock).isSocket()).toBe(true);

    const third = await start(settings.env);
    await listening(third);
    expect(await writes(third.port, token, 20, 'third')).toEqual(Array(20).fill(200));
    third.signal('SIGTERM');
    expect((await exitOf(third)).code).toBe(0);
    expect(existsSync(lock)).toBe(false);
  }, 180_000);

  it('holds in one process too; an app lets go of the file as it closes; a tool that says so opens the file beside it', async () => {
    const shared = { dir: mkdtempSync(join(tmpdir(), 'pv-lock-')) };
    dirs.push(shared.dir);
    const first = await startApp('sqlite', {}, shared);
    const lock = `${realpathSync(first.env.DATABASE_URL)}.lock`;
    try {
      await expect(startApp('sqlite', {}, shared)).rejects.toMatchObject({
        message: expect.stringMatching(/^DATABASE_URL .*: another instance uses that file \(pid \d+\)/),
        fields: { setting: 'DATABASE_URL', lock, pid: process.pid },
      });

      @Global()
      @Module({ providers: [{ provide: SQLITE_INSTANCE_LOCK, useValue: false }], exports: [SQLITE_INSTANCE_LOCK] })
      class WithoutInstanceLock {}
      const admin = SmsBackoffAdminModule.forRoot(first.env, new Writable({ write: (_c, _e, done) => done() }));
      const tool = await NestFactory.createApplicationContext(
        { ...admin, imports: [WithoutInstanceLock, ...admin.imports] },
        { logger: false, abortOnError: false },
      );
      try {
        expect(await tool.get(SmsBackoffAdmin).clear('+41791234567')).toEqual({ e164: '+41791234567', cleared: 0 });
      } finally {
        await tool.close();
      }
      // the tool took no lock, so its closing left the app's in place
      expect(lstatSync(lock).isSocket()).toBe(true);
    } finally {
      await first.close();
    }
    expect(existsSync(lock)).toBe(false);
    const next = await startApp('sqlite', {}, shared);
    await next.close();
  }, 60_000);
});
