import { ChildProcess, spawn } from 'node:child_process';
import {
  existsSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  DatabaseFileInUse,
  lockAddress,
  MAX_SOCKET_PATH,
  removeStale,
  SqliteFileLock,
} from '../../src/database/sqlite-file-lock';

/** A process of its own holding a socket at `path` the way the lock does: it answers with its pid. */
async function holder(path: string): Promise<ChildProcess> {
  const script = `
    const server = require('node:net').createServer((s) => s.end(process.pid + '\\n'));
    server.listen(process.argv[1], () => console.log('ready'));`;
  const child = spawn(process.execPath, ['-e', script, path], { stdio: ['ignore', 'pipe', 'inherit'] });
  await new Promise<void>((ready, fail) => {
    const timer = setTimeout(() => fail(new Error('the holder did not bind within 10 s')), 10_000);
    child.stdout!.once('data', () => (clearTimeout(timer), ready()));
    child.once('exit', (code) => (clearTimeout(timer), fail(new Error(`the holder exited (${code})`))));
  });
  return child;
}

async function killed(child: ChildProcess): Promise<void> {
  const exited = new Promise((done) => child.once('exit', done));
  child.kill('SIGKILL');
  await exited;
}

/** What answers at a lock's address: the pid it says. */
function pidAt(address: string): Promise<number> {
  return new Promise((resolve, reject) => {
    let said = '';
    connect(address)
      .setEncoding('utf8')
      .on('data', (chunk: string) => (said += chunk))
      .on('error', reject)
      .on('close', () => resolve(Number.parseInt(said, 10)));
  });
}

const refusal = (acquiring: Promise<unknown>) =>
  acquiring.then(
    () => undefined,
    (error: unknown) => error,
  );

describe(SqliteFileLock.name, () => {
  let dir: string;
  let file: string;
  const held: SqliteFileLock[] = [];
  const children: ChildProcess[] = [];

  const acquire = async (path = file) => {
    const lock = await SqliteFileLock.acquire(path);
    if (lock) held.push(lock);
    return lock;
  };

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'pv-lock-'));
    file = join(dir, 'db.sqlite');
    writeFileSync(file, '');
  });
  afterEach(async () => {
    await Promise.all(held.splice(0).map((lock) => lock.release()));
    for (const child of children.splice(0))
      if (child.exitCode === null && child.signalCode === null) await killed(child);
    rmSync(dir, { recursive: true, force: true });
  });

  it('binds a socket beside the file that answers with our pid, and removes it on release', async () => {
    const lock = (await acquire())!;
    expect(lock.address).toBe(`${file}.lock`);
    expect(lstatSync(lock.address).isSocket()).toBe(true);
    expect(await pidAt(lock.address)).toBe(process.pid);
    await lock.release();
    await lock.release();
    expect(existsSync(lock.address)).toBe(false);
    expect(await acquire()).toBeDefined();
  });

  it('refuses while another live process holds it, naming its pid, and leaves its socket alone', async () => {
    const other = await holder(`${file}.lock`);
    children.push(other);
    const error = await refusal(acquire());
    expect(error).toBeInstanceOf(DatabaseFileInUse);
    expect(error).toMatchObject({ pid: other.pid, lock: `${file}.lock` });
    expect(await pidAt(`${file}.lock`)).toBe(other.pid);
  });

  it('refuses a second lock in the same process, and through a symlink to the file', async () => {
    await acquire();
    await expect(acquire()).rejects.toMatchObject({ pid: process.pid });
    const link = join(dir, 'link.sqlite');
    symlinkSync(file, link);
    await expect(acquire(link)).rejects.toBeInstanceOf(DatabaseFileInUse);
  });

  it('takes over the socket a killed process left behind', async () => {
    await killed(await holder(`${file}.lock`));
    expect(lstatSync(`${file}.lock`).isSocket()).toBe(true);
    const lock = (await acquire())!;
    expect(await pidAt(lock.address)).toBe(process.pid);
    expect(readdirSync(dir).sort()).toEqual(['db.sqlite', 'db.sqlite.lock']);
  });

  it('lets exactly one of two starts racing over a stale socket have it', async () => {
    await killed(await holder(`${file}.lock`));
    const outcomes = await Promise.allSettled([acquire(), acquire()]);
    expect(outcomes.map((o) => o.status).sort()).toEqual(['fulfilled', 'rejected']);
    expect(outcomes.find((o) => o.status === 'rejected')).toMatchObject({ reason: { pid: process.pid } });
    const winner = outcomes.find((o) => o.status === 'fulfilled') as PromiseFulfilledResult<SqliteFileLock>;
    expect(await pidAt(winner.value.address)).toBe(process.pid);
    expect(readdirSync(dir).sort()).toEqual(['db.sqlite', 'db.sqlite.lock']);
  });

  it('gives a socket that turns out live its name back (bound between the check and the removal)', async () => {
    const other = await holder(`${file}.lock`);
    children.push(other);
    await removeStale(`${file}.lock`);
    expect(await pidAt(`${file}.lock`)).toBe(other.pid);
    expect(readdirSync(dir).sort()).toEqual(['db.sqlite', 'db.sqlite.lock']);
    await killed(other);
    await removeStale(`${file}.lock`);
    expect(readdirSync(dir)).toEqual(['db.sqlite']);
  });

  it('never removes a file at the lock path that is not a socket', async () => {
    writeFileSync(`${file}.lock`, 'notes');
    await expect(acquire()).rejects.toMatchObject({ code: 'EEXIST' });
    expect(lstatSync(`${file}.lock`).isFile()).toBe(true);
  });

  it('takes no lock for :memory:, nor for a path that does not resolve (opening it fails and says why)', async () => {
    expect(await acquire(':memory:')).toBeUndefined();
    expect(await acquire(join(dir, 'missing', 'db.sqlite'))).toBeUndefined();
  });

  describe('a path too long for a socket', () => {
    let deep: string;
    beforeEach(() => {
      const parent = join(dir, 'd'.repeat(MAX_SOCKET_PATH));
      mkdirSync(parent);
      deep = join(parent, 'db.sqlite');
      writeFileSync(deep, '');
    });

    it('is locked in the abstract namespace by a hash of the real path: nothing beside the file', async () => {
      const lock = (await acquire(deep))!;
      expect(lock.address).toMatch(/^\0phone-verify-[0-9a-f]{32}\.lock$/);
      await expect(acquire(deep)).rejects.toMatchObject({ lock: `@${lock.address.slice(1)}`, pid: process.pid });
      expect(readdirSync(join(deep, '..'))).toEqual(['db.sqlite']);
      await lock.release();
      expect(await acquire(deep)).toBeDefined();
    });

    it('elsewhere than Linux is a socket in the temp dir, named by the same hash', () => {
      const address = lockAddress(deep, 'darwin');
      expect(address).toBe(join(tmpdir(), lockAddress(deep, 'linux').slice(1)));
      expect(Buffer.byteLength(address)).toBeLessThanOrEqual(MAX_SOCKET_PATH);
    });

    it('starts at 108 bytes: 107 still fit beside the file', () => {
      const fits = '/' + 'x'.repeat(MAX_SOCKET_PATH - '/.lock'.length);
      expect(lockAddress(fits)).toBe(`${fits}.lock`);
      expect(lockAddress(`${fits}y`)).toMatch(/^\0/);
    });
  });
});
