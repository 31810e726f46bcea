import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startApp } from './support/test-app';

/** A start that fails rejects and leaves nothing open (Nest's abortOnError used to process.exit(1), killing jest). */
describe('a failed start', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'pv-start-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('while Nest builds the app (the database cannot be opened) rejects, and the process lives on', async () => {
    writeFileSync(join(dir, 'a-file'), '');
    await expect(startApp('sqlite', { DATABASE_URL: join(dir, 'a-file', 'db.sqlite') }, { dir })).rejects.toThrow(
      /DATABASE_URL .*a part of the path is a file/,
    );
    expect(readdirSync(dir)).toEqual(['a-file']);
  }, 60_000);

  it('while the servers start (the gRPC port is taken) rejects (the half-started app is closed, or jest would not exit)', async () => {
    const taken: Server = createServer();
    await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve));
    const { port } = taken.address() as { port: number };
    try {
      await expect(startApp('sqlite', { GRPC_PORT: String(port) })).rejects.toThrow(
        /^GRPC_PORT \d+ on 127\.0\.0\.1 cannot be opened \(EADDRINUSE\); set another port, or 0 for none/,
      );
      await expect(startApp('sqlite', { PORT: String(port) })).rejects.toMatchObject({
        message: expect.stringMatching(/^PORT \d+ on 127\.0\.0\.1 cannot be opened \(EADDRINUSE\)/),
        fields: { setting: 'PORT', reason: 'EADDRINUSE' },
      });
    } finally {
      await new Promise((resolve) => taken.close(resolve));
    }
  }, 60_000);
});
