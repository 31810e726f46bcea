import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import request from 'supertest';
import { until } from './support/wait';
import { freePort } from './support/test-app';
import { buildIfNeeded, portClosed, removeDir, serverEnv, ServerProcess } from './support/server-process';

/** Settings from a file (ENV_FILE, default .env) as `node --env-file` reads them; the environment wins. */
describe('settings from an env file', () => {
  const started: ServerProcess[] = [];
  const dirs: string[] = [];
  const key = Buffer.alloc(32, 9).toString('base64');

  beforeAll(() => buildIfNeeded(), 240_000);
  afterAll(async () => {
    for (const server of started) await server.kill();
    dirs.forEach(removeDir);
  });

  /** A server whose PORT, GRPC_PORT, LOG_LEVEL and CODE_HMAC_KEY come from a file only. */
  async function withFile(lines: (ports: { port: number; grpcPort: number }) => string, env: Record<string, string>) {
    const settings = await serverEnv();
    dirs.push(settings.dir);
    const file = join(settings.dir, 'settings.env');
    const ports = { port: await freePort(), grpcPort: await freePort() };
    writeFileSync(file, lines(ports));
    const childEnv: Record<string, string> = { ...settings.env, ENV_FILE: file, ...env };
    for (const name of ['PORT', 'GRPC_PORT', 'LOG_LEVEL']) if (!(name in env)) delete childEnv[name];
    const server = new ServerProcess(process.execPath, ['dist/src/main.js'], childEnv);
    started.push(server);
    return { server, file, ports };
  }

  it('takes PORT, GRPC_PORT and LOG_LEVEL from the file', async () => {
    const { server, ports } = await withFile(
      ({ port, grpcPort }) =>
        `# a comment\nPORT=${port}\nGRPC_PORT="${grpcPort}"\nLOG_LEVEL=warn\nCODE_HMAC_KEY=${key}\n`,
      {},
    );
    await until(
      'the server on the file’s PORT',
      async () =>
        (
          await request(`http://127.0.0.1:${ports.port}`)
            .get('/healthz')
            .catch(() => undefined)
        )?.status === 200,
      60_000,
    );
    expect(await portClosed(ports.grpcPort)).toBe(false);
    // LOG_LEVEL=warn: no info line (not even the listening one)
    expect(server.records().filter((r) => r.level < 40)).toEqual([]);
    expect(server.lines.join('\n')).not.toContain(key);
  }, 120_000);

  it('lets the environment win over the file, and names the variables (not their values)', async () => {
    const envPort = await freePort();
    const { server, ports, file } = await withFile(
      ({ port, grpcPort }) => `PORT=${port}\nGRPC_PORT=${grpcPort}\nLOG_LEVEL=warn\nCODE_HMAC_KEY=${key}\n`,
      { PORT: String(envPort), LOG_LEVEL: 'info' },
    );
    const listening = await server.record('the listening line', (r) => /^listening on /.test(r.msg ?? ''), 60_000);
    expect(listening.msg).toContain(`http://127.0.0.1:${envPort}`);
    expect(listening.msg).toContain(`gRPC on 127.0.0.1:${ports.grpcPort}`);
    await request(`http://127.0.0.1:${envPort}`).get('/healthz').expect(200);
    expect(await portClosed(ports.port)).toBe(true);
    const read = server.records().find((r) => r.msg === 'settings read from the env file');
    expect(read).toMatchObject({
      path: file,
      variables: ['CODE_HMAC_KEY', 'GRPC_PORT'],
      overriddenByEnvironment: ['LOG_LEVEL', 'PORT'],
    });
    expect(server.lines.join('\n')).not.toContain(key);
  }, 120_000);
});
