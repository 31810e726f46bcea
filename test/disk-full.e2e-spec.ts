import { spawnSync } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, rmSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sqliteConnection } from '../src/database/sqlite.adapter';
import { bearer, dataSourceOf, startApp, TestApp } from './support/test-app';

/**
 * A disk that fills up under SQLite. Where the test may mount a file system (root), the database
 * lives on a tmpfs of a few MiB filled by a file of the test's; elsewhere SQLite's own page limit
 * (`max_page_count`, which fails a write with the same SQLITE_FULL) stands in for the disk.
 */
interface Disk {
  fill(): void;
  free(): void;
  close(): void;
}

function tmpfsDisk(dir: string): Disk | undefined {
  const mounted = spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=4m', 'tmpfs', dir], { stdio: 'ignore' });
  if (mounted.status !== 0) return undefined;
  const filler = join(dir, 'filler');
  return {
    fill() {
      const fd = openSync(filler, 'a');
      const chunk = Buffer.alloc(64 * 1024);
      try {
        // every byte left, in ever smaller pieces, so not even one page of the log fits any more
        for (let size = chunk.length; size >= 512; size /= 2) {
          for (let i = 0; i < 1024; i++) {
            try {
              writeSync(fd, chunk, 0, size);
            } catch {
              break;
            }
          }
        }
      } finally {
        closeSync(fd);
      }
    },
    free: () => rmSync(filler, { force: true }),
    close: () => void spawnSync('umount', ['-l', dir], { stdio: 'ignore' }),
  };
}

function pageLimitDisk(t: () => TestApp): Disk {
  const db = () => sqliteConnection(dataSourceOf(t()));
  return {
    fill() {
      const [{ page_count: pages }] = db().pragma('page_count') as Array<{ page_count: number }>;
      db().pragma(`max_page_count = ${pages}`);
    },
    free: () => void db().pragma('max_page_count = 1073741823'),
    close: () => undefined,
  };
}

const modes = ['tmpfs', 'page limit'] as const;

describe.each(modes)('SQLite on a full disk (%s)', (mode) => {
  let dir: string;
  let disk: Disk | undefined;
  let t: TestApp | undefined;
  let counter = 0;
  const answered: Array<{ email: string; status: number; phase: string }> = [];

  /** One write as a client makes it: a human user with an address of its own. */
  const write = async (phase: string) => {
    const email = `disk.${counter++}@example.com`;
    const res = await t!
      .http()
      .post('/v2/users/human')
      .set(bearer(t!.adminToken))
      .send({ profile: { givenName: 'Dee', familyName: 'Skfull' }, email: { email, isVerified: true } });
    answered.push({ email, status: res.status, phase });
    return res;
  };

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'pv-disk-'));
    if (mode === 'tmpfs') disk = tmpfsDisk(dir);
    else disk = pageLimitDisk(() => t!);
    if (!disk) return;
    t = await startApp('sqlite', {}, { dir });
  }, 60_000);

  afterAll(async () => {
    await t?.close().catch(() => undefined);
    disk?.close();
    rmSync(dir, { recursive: true, force: true });
  }, 60_000);

  it('refuses every write while the disk is full, takes writes again once there is room, and keeps exactly the answered ones', async () => {
    if (!disk) {
      // no tmpfs where the test may not mount one: the page-limit run covers the same path
      expect(mode).toBe('tmpfs');
      return;
    }
    for (let i = 0; i < 5; i++) expect((await write('before')).status).toBe(200);

    disk.fill();
    let first: number | undefined;
    for (let i = 0; i < 2000 && first === undefined; i++) {
      const res = await write('filling');
      if (res.status !== 200) first = res.status;
    }
    // a dependency fault, not a bug: 503 UNAVAILABLE
    expect(first).toBe(503);
    // the first refusal is SQLite's own: the disk (or the page limit) is full
    expect(t!.logs.join('\n')).toMatch(/SQLITE_FULL|database or disk is full/);

    // the connection must not be left in a transaction that later "commits" never end
    // a small write may still fit where a failed one was rolled back (and is then durable: checked
    // after the restart below); the rest are 503, never another answer
    const full: number[] = [];
    for (let i = 0; i < 40; i++) {
      const res = await write('full');
      full.push(res.status);
      if (res.status !== 200) expect(res.body).toMatchObject({ code: 14 });
    }
    expect(full.filter((status) => status !== 200 && status !== 503)).toEqual([]);
    expect(full.filter((status) => status === 503).length).toBeGreaterThan(0);
    expect(sqliteConnection(dataSourceOf(t!)).inTransaction).toBe(false);

    // the checkpointer keeps trying every 250 ms while the disk is full, and says so once
    await new Promise((resolve) => setTimeout(resolve, 1000));
    expect(t!.logs.filter((line) => line.includes('SQLite checkpoint failed')).length).toBeLessThanOrEqual(1);

    disk.free();
    for (let i = 0; i < 20; i++) expect((await write('freed')).status).toBe(200);

    await t!.close();
    t = await startApp('sqlite', {}, { dir });
    const rows = (await dataSourceOf(t).query('SELECT email FROM users')) as Array<{ email: string }>;
    const stored = new Set(rows.map((row) => row.email));
    const lost = answered.filter((a) => a.status === 200 && !stored.has(a.email));
    const ghosts = answered.filter((a) => a.status !== 200 && stored.has(a.email));
    expect({ lost, ghosts }).toEqual({ lost: [], ghosts: [] });
    expect(answered.filter((a) => a.phase === 'freed' && a.status === 200)).toHaveLength(20);
  }, 120_000);
});
