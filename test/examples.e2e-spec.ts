import { execFile } from 'node:child_process';
import { cpSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { promisify } from 'node:util';
import { startApp, TestApp } from './support/test-app';

const run = promisify(execFile);
const ROOT = join(__dirname, '..');
const EXAMPLES = join(ROOT, 'examples');

function filesUnder(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? filesUnder(path) : [path];
  });
}

describe('examples/ (connect-es clients generated from proto/)', () => {
  let t: TestApp | undefined;

  beforeAll(async () => {
    t = await startApp('sqlite');
  }, 60_000);

  afterAll(async () => {
    await t?.close();
  }, 30_000);

  it('examples/gen is what buf.gen.yaml generates from proto/ today', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'pv-gen-'));
    try {
      cpSync(join(EXAMPLES, 'buf.gen.yaml'), join(dir, 'buf.gen.yaml'));
      const plugin = join(ROOT, 'node_modules', '.bin', 'protoc-gen-es');
      const template = readFileSync(join(dir, 'buf.gen.yaml'), 'utf8').replace(
        '../node_modules/.bin/protoc-gen-es',
        plugin,
      );
      const buf = require.resolve('@bufbuild/buf/bin/buf');
      await run(process.execPath, [buf, 'generate', join(ROOT, 'proto'), '--template', template], { cwd: dir });
      const committed = filesUnder(join(EXAMPLES, 'gen'))
        .map((f) => relative(join(EXAMPLES, 'gen'), f))
        .sort();
      const fresh = filesUnder(join(dir, 'gen'))
        .map((f) => relative(join(dir, 'gen'), f))
        .sort();
      expect(committed).toEqual(fresh);
      for (const file of fresh) {
        expect(readFileSync(join(EXAMPLES, 'gen', file), 'utf8')).toBe(readFileSync(join(dir, 'gen', file), 'utf8'));
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 60_000);

  it.each(['connect', 'grpc-web', 'grpc'])(
    'verify-phone.ts sets and verifies a phone over %s',
    async (transport) => {
      const address = t!.app.getHttpServer().address() as { port: number };
      const tsNode = require.resolve('ts-node/dist/bin.js');
      const { stdout } = await run(
        process.execPath,
        [tsNode, '--transpile-only', join(EXAMPLES, 'verify-phone.ts'), transport],
        {
          cwd: ROOT,
          timeout: 90_000,
          env: {
            ...process.env,
            PV_TOKEN: t!.adminToken,
            PV_API: `http://127.0.0.1:${address.port}`,
          },
        },
      );
      expect(stdout).toMatch(/^user \d+ in organization \d+$/m);
      expect(stdout).toContain('wrong code: InvalidArgument Code is invalid, 4 attempts left (COMMAND-eis9R)');
      expect(stdout).toContain('phone +41791234567 verified: true');
    },
    120_000,
  );
});
