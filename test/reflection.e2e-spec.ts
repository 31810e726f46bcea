import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { PROTO_ROOT } from '../src/common/grpc/proto-files';
import { DESCRIPTOR_SET } from '../src/common/grpc/reflection';
import { createHuman, createOrg } from './support/factories';
import { bearer, startApp, TestApp } from './support/test-app';

const run = promisify(execFile);
const ROOT = join(__dirname, '..');

/** The shell block of the README that follows its "tested" marker for this file. */
function readmeBlock(): string {
  const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
  const marker = readme.indexOf('<!-- tested: test/reflection.e2e-spec.ts runs this block -->');
  const block = /```sh\n([\s\S]*?)```/.exec(readme.slice(marker));
  if (marker < 0 || !block) throw new Error('the README lost its buf curl block');
  return block[1];
}

/** Runs one README command (with its line continuations) in bash against the test's server. */
async function shell(command: string, env: Record<string, string>): Promise<string> {
  const { stdout } = await run('bash', ['-euo', 'pipefail', '-c', command], {
    cwd: ROOT,
    env: { ...process.env, ...env },
    timeout: 60_000,
  });
  return stdout;
}

describe('server reflection for reflection-driven clients (buf curl)', () => {
  let t: TestApp | undefined;
  let env: Record<string, string>;

  beforeAll(async () => {
    t = await startApp('sqlite');
    const orgId = await createOrg(t);
    const { userId } = await createHuman(t, { orgId });
    const set = await t
      .http()
      .post(`/v2/users/${userId}/phone`)
      .set(bearer(t.adminToken))
      .send({ phone: '+41791234567', returnCode: {} })
      .expect(200);
    env = { PV_TOKEN: t.adminToken, PV_USER_ID: userId, PV_CODE: set.body.verificationCode as string };
  }, 60_000);

  afterAll(async () => {
    await t?.close();
  }, 30_000);

  it('proto/descriptors.binpb is what buf builds from proto/ today', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'pv-desc-'));
    try {
      const out = join(dir, 'set.binpb');
      await run(process.execPath, [require.resolve('@bufbuild/buf/bin/buf'), 'build', PROTO_ROOT, '-o', out]);
      expect(readFileSync(DESCRIPTOR_SET).equals(readFileSync(out))).toBe(true);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 60_000);

  it("the README's buf curl commands list, verify, read and check health", async () => {
    const commands = readmeBlock()
      .replace(/localhost:8080/g, `127.0.0.1:${(t!.app.getHttpServer().address() as { port: number }).port}`)
      .split(/(?<!\\)\n/)
      .filter((line) => line.trim() && !line.startsWith('#'));
    expect(commands).toHaveLength(4);
    const [list, verify, get, health] = commands;

    expect((await shell(list, env)).split('\n').filter(Boolean).sort()).toEqual([
      'grpc.health.v1.Health',
      'zitadel.org.v2.OrganizationService',
      'zitadel.user.v2.UserService',
    ]);
    expect(JSON.parse(await shell(verify, env))).toEqual({
      details: expect.objectContaining({ sequence: expect.any(String) }),
    });
    const user = JSON.parse(await shell(get, env)) as { user: { human: { phone: unknown } } };
    expect(user.user.human.phone).toEqual({ phone: '+41791234567', isVerified: true });
    expect(JSON.parse(await shell(health, env))).toEqual({ status: 'SERVING' });
  }, 120_000);
});
