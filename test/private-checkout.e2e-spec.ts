import { execFile, execFileSync } from 'node:child_process';
import { chownSync, cpSync, mkdtempSync, readdirSync, readlinkSync, rmSync, statSync } from 'node:fs';
import { tmpdir, userInfo } from 'node:os';
import { join, relative } from 'node:path';

const ROOT = join(__dirname, '..');
/** What a clone holds besides node_modules, which is linked in (same files, no download). */
const NOT_COPIED = new Set(['node_modules', '.git', 'dist', 'data', 'coverage', 'bench/results']);
/** The servers of this run: a child that found them would prove nothing. */
const RUN_SERVERS = ['TEST_PG_URL', 'TEST_PG_EMBEDDED', 'TEST_REDIS_URL', 'TEST_PG_VIA_PGBOUNCER'];

interface Who {
  name: string;
  uid: number;
  gid: number;
}

function idOf(user: string): Who {
  try {
    const id = (flag: string) => Number(execFileSync('id', [flag, user], { encoding: 'utf8' }).trim());
    return { name: user, uid: id('-u'), gid: id('-g') };
  } catch {
    throw new Error(`the user "${user}" is missing: this test runs the suite's setup as that normal user`);
  }
}

/**
 * Who runs the setup: the user running the suite and, when that is root (who can be anyone), a
 * normal user too. A clone inside a private folder (mode 0700, such as /root or a home folder)
 * once failed as root: the embedded PostgreSQL runs as the `postgres` user, who cannot reach it.
 */
const WHO: Who[] =
  process.getuid?.() === 0
    ? [{ name: 'root', uid: 0, gid: 0 }, idOf('nobody')]
    : [{ name: userInfo().username, uid: process.getuid!(), gid: process.getgid!() }];

/** A copy of this checkout in a new 0700 folder that `who` owns; node_modules hard-linked in. */
function privateCheckout(who: Who): { dir: string; checkout: string } {
  const dir = mkdtempSync(join(tmpdir(), 'pv-private-'));
  const checkout = join(dir, 'phone-verify');
  cpSync(ROOT, checkout, { recursive: true, filter: (source) => !NOT_COPIED.has(relative(ROOT, source)) });
  execFileSync('cp', ['-al', join(ROOT, 'node_modules'), join(checkout, 'node_modules')]);
  chownSync(dir, who.uid, who.gid);
  expect(statSync(dir).mode & 0o777).toBe(0o700);
  return { dir, checkout };
}

/** `argv` in `cwd` as `who` (through runuser when that is another user); its output, or its failure with it. */
function runAs(who: Who, cwd: string, argv: string[], timeoutMs: number): Promise<string> {
  const env: Record<string, string> = {};
  for (const [name, value] of Object.entries(process.env)) {
    if (value !== undefined && !RUN_SERVERS.includes(name)) env[name] = value;
  }
  env.HOME = cwd;
  const [file, args] =
    who.uid === process.getuid?.() ? [argv[0], argv.slice(1)] : ['runuser', ['-u', who.name, '--', ...argv]];
  return new Promise((resolve, reject) => {
    execFile(file, args, { cwd, env, timeout: timeoutMs, maxBuffer: 16 << 20 }, (error, stdout, stderr) => {
      if (error) reject(new Error(`${argv.join(' ')} as ${who.name} failed (${error.message}):\n${stdout}\n${stderr}`));
      else resolve(`${stdout}\n${stderr}`);
    });
  });
}

/** Ends what a run that timed out left behind: every process working in the folder. */
function killProcessesIn(folder: string): void {
  for (const pid of readdirSync('/proc').filter((name) => /^\d+$/.test(name))) {
    try {
      const cwd = readlinkSync(`/proc/${pid}/cwd`);
      if (cwd === folder || cwd.startsWith(`${folder}/`)) process.kill(Number(pid), 'SIGKILL');
    } catch {
      // gone meanwhile, or not ours to read
    }
  }
}

describe.each(WHO.map((who) => [who.name, who] as const))(
  "npm test's setup from a clone inside a private folder (0700), as %s",
  (_name, who) => {
    let dir: string | undefined;

    afterAll(() => {
      if (!dir) return;
      killProcessesIn(dir);
      rmSync(dir, { recursive: true, force: true });
    });

    it('checks what the suite needs, starts PostgreSQL and Redis, and runs a spec of each project', async () => {
      const made = privateCheckout(who);
      dir = made.dir;
      const deps = await runAs(who, made.checkout, ['sh', 'scripts/test-deps.sh'], 30_000);
      expect(deps.trim()).toBe('');
      const jest = [process.execPath, 'node_modules/jest/bin/jest.js', '--runInBand', '--ci'];
      const specs = ['test/test-servers.e2e-spec.ts', 'src/phone/code-generator.spec.ts'];
      const output = await runAs(who, made.checkout, [...jest, ...specs], 240_000);
      expect(output).toMatch(/Test Suites: 2 passed, 2 total/);
    }, 300_000);
  },
);
