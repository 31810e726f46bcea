import { execFile } from 'node:child_process';
import { copyFileSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { createHuman } from './support/factories';
import { bearer, startApp, TestApp } from './support/test-app';

const run = promisify(execFile);
const ROOT = join(__dirname, '..');
const PROGRAMS = join(__dirname, 'openapi-client');
const TSCONFIG = {
  compilerOptions: {
    strict: true,
    module: 'nodenext',
    moduleResolution: 'nodenext',
    target: 'ES2023',
    types: ['node'],
    skipLibCheck: true,
    noEmit: true,
  },
};

/** tsc on one program of the temp dir; its diagnostics, one per line ('' when it type-checks). */
async function typeCheck(dir: string, file: string): Promise<string> {
  writeFileSync(join(dir, 'tsconfig.json'), JSON.stringify({ ...TSCONFIG, files: [file] }));
  try {
    await run(process.execPath, [require.resolve('typescript/bin/tsc'), '-p', dir], { cwd: dir, timeout: 120_000 });
    return '';
  } catch (error) {
    const { stdout, code } = error as { stdout?: string; code?: number };
    if (code === undefined) throw error; // not tsc's verdict: a timeout or a spawn failure
    return stdout ?? '';
  }
}

/** Issue 16, point 6: /openapi.json generates a typed client that works against the real app. */
describe('a TypeScript client generated from /openapi.json (openapi-typescript + openapi-fetch)', () => {
  let t: TestApp | undefined;
  let dir: string | undefined;
  let baseUrl: string;

  beforeAll(async () => {
    t = await startApp('sqlite');
    baseUrl = `http://127.0.0.1:${(t.app.getHttpServer().address() as { port: number }).port}`;
    dir = mkdtempSync(join(tmpdir(), 'pv-openapi-client-'));
    symlinkSync(join(ROOT, 'node_modules'), join(dir, 'node_modules'), 'dir');
    for (const file of ['client.ts', 'misuse.ts']) copyFileSync(join(PROGRAMS, file), join(dir, file));
    writeFileSync(join(dir, 'openapi.json'), (await t.http().get('/openapi.json').expect(200)).text);
    // the README's command, on the live document
    await run(
      process.execPath,
      [
        join(ROOT, 'node_modules/openapi-typescript/bin/cli.js'),
        `${baseUrl}/openapi.json`,
        '-o',
        join(dir, 'schema.d.ts'),
      ],
      { cwd: dir, timeout: 120_000 },
    );
  }, 180_000);

  afterAll(async () => {
    await t?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  }, 30_000);

  it('generates named types for the requests, the answers and the one error body', () => {
    const types = readFileSync(join(dir!, 'schema.d.ts'), 'utf8');
    for (const name of [
      'SetPhoneBody',
      'SetPhoneResponseDto',
      'VerifyPhoneResponseDto',
      'GetUserByIDResponseDto',
      'ErrorBody',
    ])
      expect(types).toMatch(new RegExp(`^\\s+${name}: \\{`, 'm'));
    expect(types).toContain('UserService_VerifyPhone: {');
    expect(types).toMatch(/verificationCode\?: string;/);
  });

  it('type-checks a program using the typed paths', async () => {
    expect(await typeCheck(dir!, 'client.ts')).toBe('');
  }, 180_000);

  it('refuses a program that misuses them, on each wrong line', async () => {
    const diagnostics = await typeCheck(dir!, 'misuse.ts');
    const lines = [...diagnostics.matchAll(/^misuse\.ts\((\d+),\d+\): error TS/gm)].map((m) => Number(m[1]));
    const source = readFileSync(join(dir!, 'misuse.ts'), 'utf8').split('\n');
    const wrong = source.flatMap((line, i) => (/^\s+\/\/ /.test(source[i - 1] ?? '') && line.trim() ? [i + 1] : []));
    expect(wrong).toHaveLength(4);
    expect([...new Set(lines)].sort()).toEqual(wrong.sort());
  }, 180_000);

  it('sets and verifies a phone through the generated client against the real app', async () => {
    const { userId } = await createHuman(t!);
    const { stdout } = await run(
      process.execPath,
      [require.resolve('ts-node/dist/bin.js'), '--transpile-only', join(dir!, 'client.ts')],
      {
        cwd: dir,
        timeout: 120_000,
        env: { ...process.env, PV_API: baseUrl, PV_TOKEN: t!.adminToken, PV_USER_ID: userId },
      },
    );
    expect(stdout).toMatch(/^code sent at sequence \d+$/m);
    expect(stdout).toContain('wrong code: 400 3 Code is invalid, 4 attempts left (COMMAND-eis9R)');
    expect(stdout).toMatch(/^verified at sequence \d+$/m);
    expect(stdout).toContain('phone +41791234567 verified: true');
    const user = await t!.http().get(`/v2/users/${userId}`).set(bearer(t!.adminToken)).expect(200);
    expect(user.body.user.human.phone).toEqual({ phone: '+41791234567', isVerified: true });
  }, 180_000);
});
