import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import {
  chmodSync,
  chownSync,
  existsSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  renameSync,
  rmSync,
  statSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { Client } from 'pg';
import { parseDocument } from 'yaml';
import { AppConfig } from '../src/app.config';
import { settingsCatalogue } from '../src/common/config/settings-reader';
import { environment, execForm, flags, inContext, instructions, single } from './support/dockerfile';
import { freePort } from './support/free-port';
import { createPgSchema, dropPgSchema, PG_URL } from './support/test-app';
import { ReplayedImage, replayImage } from './support/image-replay';
import { ServerProcess } from './support/server-process';

/** `argv` started as the image would: in its folder, as its user. */
function start(argv: string[], options: { cwd: string; env: Record<string, string>; uid?: number; gid?: number }) {
  const { env, ...where } = options;
  return new ServerProcess(argv[0], argv.slice(1), env, where);
}

const ROOT = join(__dirname, '..');

/**
 * Issue 28, point 4: the container image. No container engine runs here, so the Dockerfile is
 * replayed as a plain install (test/support/image-replay.ts says how, and where it differs), and
 * the installed copy is run as the image runs it: its CMD, ENV, user and HEALTHCHECK.
 */
describe('container image (the Dockerfile replayed as a plain install)', () => {
  let dir: string;
  let image: ReplayedImage;
  let env: Record<string, string>;
  /** what the runtime stage's VOLUME paths stand for here */
  let volumes: Map<string, string>;
  const started: ServerProcess[] = [];

  // the user of the image's USER, when this process may take another user's id (root)
  const asUser = (user: string) => {
    const [uid, gid = uid] = user.split(':').map(Number);
    return process.getuid?.() === 0 ? { uid, gid } : {};
  };

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'pv-image-'));
    // the image's user reaches the installed files, as in the image
    chmodSync(dir, 0o755);
    image = replayImage(ROOT, join(dir, 'stages'));
    volumes = new Map(volumesOf(image).map((volume) => [volume, join(dir, 'volumes', volume.replace(/\//g, '_'))]));
    mkdirSync(join(dir, 'volumes'), { mode: 0o755 });
    for (const folder of volumes.values()) {
      mkdirSync(folder, { mode: 0o700 });
      const { uid, gid } = asUser(single(image.runtime, 'USER'));
      if (uid !== undefined) chownSync(folder, uid, gid!);
    }
    // the application's files are not the server's to change (a read-only root file system)
    readOnly(image.app, true);
  }, 900_000);

  afterAll(async () => {
    await Promise.all(started.map((process) => process.kill()));
    // a server npm started outlives a killed npm: every process working in our folder is ours
    if (dir) killProcessesIn(dir);
    if (image?.app) readOnly(image.app, false);
    if (dir) rmSync(dir, { recursive: true, force: true });
  }, 60_000);

  /** The runtime stage's ENV with its volumes here, ports free, loopback only, and what production requires. */
  const settings = async () => {
    const fromImage = environment(image.runtime);
    const here: Record<string, string> = { PATH: process.env.PATH ?? '/usr/bin:/bin' };
    for (const [name, value] of Object.entries(fromImage)) {
      const volume = [...volumes.keys()].find((path) => value.startsWith(`${path}/`));
      here[name] = volume ? volumes.get(volume)! + value.slice(volume.length) : value;
    }
    env = {
      ...here,
      PORT: String(await freePort()),
      METRICS_PORT: String(await freePort()),
      HOST: '127.0.0.1',
      METRICS_HOST: '127.0.0.1',
      // NODE_ENV=production (the image's) starts only with a code key and a real SMS provider
      CODE_HMAC_KEY: `k1:${randomBytes(32).toString('base64')}`,
      SMS_PROVIDER: 'none',
    };
    return env;
  };

  const healthcheck = () => {
    const { rest } = flags(single(image.runtime, 'HEALTHCHECK'));
    const argv = execForm(rest.replace(/^CMD\s+/, ''));
    const result = spawnSync(argv[0], argv.slice(1), { cwd: image.app, env, timeout: 30_000 });
    return result.status;
  };

  it('builds on node:20 slim (Debian bookworm), runs as a user other than root, and runs node itself (signals reach it)', () => {
    expect(image.runtime.from).toBe('node:20-bookworm-slim');
    const [uid] = single(image.runtime, 'USER').split(':');
    // by number, so that Kubernetes' runAsNonRoot can check it
    expect(uid).toMatch(/^\d+$/);
    expect(Number(uid)).toBeGreaterThan(0);
    expect(execForm(single(image.runtime, 'ENTRYPOINT'))).toEqual(['/usr/bin/tini', '--']);
    // the command of `npm start`, without npm (and without exec, which CMD's exec form does)
    const { scripts } = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as {
      scripts: Record<string, string>;
    };
    expect(execForm(single(image.runtime, 'CMD'))).toEqual(scripts.start.replace(/^exec\s+/, '').split(/\s+/));
  });

  it('exposes the service port and the management port, and keeps every file the service writes on a volume', () => {
    const fromImage = environment(image.runtime);
    expect(instructions(image.runtime, 'EXPOSE').join(' ').split(/\s+/)).toEqual([
      fromImage.PORT,
      fromImage.METRICS_PORT,
    ]);
    // the settings whose default is a path in the working folder: files the service writes
    const written = settingsCatalogue(AppConfig)
      .filter(({ value }) => typeof value === 'string' && value.startsWith('./'))
      .map(({ env }) => env);
    expect(written).toEqual(expect.arrayContaining(['DATABASE_URL', 'FIRST_INSTANCE_PAT_PATH', 'CODE_HMAC_KEY_FILE']));
    for (const name of written) {
      expect([name, [...volumes.keys()].some((volume) => fromImage[name]?.startsWith(`${volume}/`))]).toEqual([
        name,
        true,
      ]);
    }
  });

  it('installs production dependencies only, and no sources', () => {
    const lock = JSON.parse(readFileSync(join(ROOT, 'package-lock.json'), 'utf8')) as {
      packages: Record<string, { dev?: boolean }>;
    };
    const devOnly = Object.keys(lock.packages).filter((path) => path && lock.packages[path].dev);
    expect(devOnly.length).toBeGreaterThan(0);
    expect(devOnly.filter((path) => existsSync(join(image.app, path)))).toEqual([]);
    expect(existsSync(join(image.app, 'node_modules/better-sqlite3'))).toBe(true);
    expect(readdirSync(image.app).sort()).toEqual([
      'dist',
      'node_modules',
      'package-lock.json',
      'package.json',
      'proto',
      'scripts',
    ]);
  });

  it("leaves the checkout's secrets, data and builds out of the build context", () => {
    const ignore = readFileSync(join(ROOT, '.dockerignore'), 'utf8');
    const local = [
      '.env',
      'data/admin.pat',
      'data/phone-verify.sqlite',
      'node_modules/pg/package.json',
      'dist/src/main.js',
    ];
    expect(local.filter((path) => inContext(ignore, path))).toEqual([]);
    expect(
      ['.git/config', 'test/smoke.e2e-spec.ts', 'src/main.spec.ts'].filter((path) => inContext(ignore, path)),
    ).toEqual([]);
  });

  it('serves REST and /livez as the image runs it, writes only to its volume, and stops cleanly on SIGTERM', async () => {
    await settings();
    const before = listing(image.app);
    const server = start(execForm(single(image.runtime, 'CMD')), {
      cwd: image.app,
      env,
      ...asUser(single(image.runtime, 'USER')),
    });
    started.push(server);
    await server.record('the listening line', (r) => /^listening on /.test(r.msg ?? ''));
    await server.record('the management listener', (r) => /^management listener on /.test(r.msg ?? ''));

    const live = await fetch(`http://127.0.0.1:${env.METRICS_PORT}/livez`, { signal: AbortSignal.timeout(30_000) });
    expect([live.status, await live.json()]).toEqual([200, { status: 'SERVING' }]);
    expect(healthcheck()).toBe(0);

    const token = readFileSync(env.FIRST_INSTANCE_PAT_PATH, 'utf8').trim();
    const call = async (method: string, path: string, body?: unknown) => {
      const res = await fetch(`http://127.0.0.1:${env.PORT}${path}`, {
        method,
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
        body: body === undefined ? undefined : JSON.stringify(body),
        signal: AbortSignal.timeout(30_000),
      });
      return { status: res.status, body: (await res.json()) as Record<string, any> };
    };
    const created = await call('POST', '/v2/users/human', {
      profile: { givenName: 'Minnie', familyName: 'Mouse' },
      email: { email: 'minnie@example.com', isVerified: true },
      phone: { phone: '+41791234567', returnCode: {} },
    });
    expect(created.status).toBe(200);
    const verified = await call('POST', `/v2/users/${created.body.userId}/phone/verify`, {
      verificationCode: created.body.phoneCode,
    });
    expect(verified.status).toBe(200);
    const user = await call('GET', `/v2/users/${created.body.userId}`);
    expect([user.status, user.body.user?.human?.phone]).toEqual([200, { phone: '+41791234567', isVerified: true }]);

    server.signal('SIGTERM');
    expect(await server.exit()).toEqual({ code: 0, signal: null });
    expect(
      server
        .records()
        .filter((r) => r.msg === 'shutdown complete')
        .map((r) => r.exitCode),
    ).toEqual([0]);
    expect(healthcheck()).not.toBe(0);
    expect(listing(image.app)).toEqual(before);
    // the files are the image user's (as root here, the server ran as that user)
    const data = volumes.get('/data')!;
    expect(readdirSync(data)).toEqual(expect.arrayContaining(['phone-verify.sqlite', 'admin.pat']));
    const owner = asUser(single(image.runtime, 'USER')).uid ?? process.getuid?.();
    expect(statSync(join(data, 'phone-verify.sqlite')).uid).toBe(owner);
  }, 180_000);

  it("runs the Helm chart's migration Job command from the installed copy: PostgreSQL migrated, then served, and again beside the server", async () => {
    await settings();
    const { job } = (
      parseDocument(readFileSync(join(ROOT, 'deploy/helm/phone-verify/values.yaml'), 'utf8')).toJS() as {
        migrations: { job: { command: string[] } };
      }
    ).migrations;
    const schema = await createPgSchema();
    try {
      // a token file of its own: the SQLite run's is on the volume already
      const token = join(volumes.get('/data')!, 'admin-pg.pat');
      Object.assign(env, { DATABASE_URL: PG_URL, DATABASE_SCHEMA: schema, FIRST_INSTANCE_PAT_PATH: token });
      const migrate = async () => {
        const run = start(job.command, { cwd: image.app, env, ...asUser(single(image.runtime, 'USER')) });
        started.push(run);
        const done = await run.record('the migrations', (r) => r.msg === 'database schema up to date');
        expect(await run.exit()).toEqual({ code: 0, signal: null });
        return done.migrations as number;
      };
      const applied = await migrate();
      const client = new Client({ connectionString: PG_URL });
      await client.connect();
      try {
        const { rows } = await client.query(`SELECT count(*)::int AS n FROM "${schema}".migrations`);
        expect(rows[0].n).toBe(applied);
      } finally {
        await client.end();
      }
      expect(applied).toBeGreaterThan(0);

      const server = start(execForm(single(image.runtime, 'CMD')), {
        cwd: image.app,
        env,
        ...asUser(single(image.runtime, 'USER')),
      });
      started.push(server);
      await server.record('the management listener', (r) => /^management listener on /.test(r.msg ?? ''));
      const ready = await fetch(`http://127.0.0.1:${env.METRICS_PORT}/readyz`, { signal: AbortSignal.timeout(30_000) });
      expect(ready.status).toBe(200);
      // an upgrade's Job beside the running release's pods: nothing left to do, nothing disturbed
      expect(await migrate()).toBe(applied);
      const still = await fetch(`http://127.0.0.1:${env.METRICS_PORT}/readyz`, { signal: AbortSignal.timeout(30_000) });
      expect(still.status).toBe(200);
      server.signal('SIGTERM');
      expect(await server.exit()).toEqual({ code: 0, signal: null });
    } finally {
      await dropPgSchema(schema);
    }
  }, 240_000);

  it('npm start runs the installed copy as it is, without building (issue 28, point 4)', async () => {
    await settings();
    const npm = start(['npm', 'start'], { cwd: image.app, env: { ...env, HOME: process.env.HOME ?? dir } });
    started.push(npm);
    const listening = await npm.record('the listening line', (r) => /^listening on /.test(r.msg ?? ''));
    expect(listening.pid).not.toBe(npm.pid);
    const live = await fetch(`http://127.0.0.1:${env.PORT}/livez`, { signal: AbortSignal.timeout(30_000) });
    expect(live.status).toBe(200);
    npm.signal('SIGTERM');
    await npm.exit();
    expect(npm.lines.filter((line) => /building|nest build/.test(line))).toEqual([]);
    expect(
      npm
        .records()
        .filter((r) => r.msg === 'shutdown complete')
        .map((r) => r.exitCode),
    ).toEqual([0]);
  }, 180_000);

  it('npm start without dist/ (and no src/) says so in one line and exits non-zero', async () => {
    await settings();
    const dist = join(image.app, 'dist');
    chmodSync(image.app, 0o755);
    renameSync(dist, `${dist}.away`);
    try {
      const npm = start(['npm', 'start'], { cwd: image.app, env: { ...env, HOME: process.env.HOME ?? dir } });
      started.push(npm);
      const { code } = await npm.exit(120_000);
      expect(code).not.toBe(0);
      expect(npm.lines.filter((line) => line.includes('there is no src/ to build it from'))).toEqual([
        `cannot start: ${join(dist, 'src/main.js')} is missing and there is no src/ to build it from (copy dist/ too)`,
      ]);
      expect(npm.records().filter((r) => /^listening on /.test(r.msg ?? ''))).toEqual([]);
    } finally {
      renameSync(`${dist}.away`, dist);
      chmodSync(image.app, 0o555);
    }
  }, 180_000);
});

function volumesOf(image: ReplayedImage): string[] {
  return instructions(image.runtime, 'VOLUME').flatMap((args) =>
    args.startsWith('[') ? (JSON.parse(args) as string[]) : args.split(/\s+/),
  );
}

/** Every file and folder under `root` with its size and modification time. */
function listing(root: string): string[] {
  const entries: string[] = [];
  const walk = (path: string) => {
    const stat = lstatSync(path);
    entries.push(`${relative(root, path)} ${stat.size} ${stat.mtimeMs}`);
    if (stat.isDirectory()) for (const name of readdirSync(path)) walk(join(path, name));
  };
  walk(root);
  return entries;
}

/** Takes write permission from everyone under `root` (symbolic links aside), or gives the owner's back. */
function readOnly(root: string, on: boolean): void {
  const walk = (path: string) => {
    const stat = lstatSync(path);
    if (stat.isSymbolicLink()) return;
    chmodSync(path, on ? stat.mode & 0o7555 : stat.mode | 0o200);
    if (stat.isDirectory()) for (const name of readdirSync(path)) walk(join(path, name));
  };
  walk(root);
}

/** SIGKILL to every process whose working folder is under `folder` (a folder of this test's own). */
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
