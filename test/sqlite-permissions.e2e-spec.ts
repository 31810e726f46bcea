import Database from 'better-sqlite3';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createOrg } from './support/factories';
import { startApp } from './support/test-app';

const modeOf = (path: string) => statSync(path).mode & 0o777;

/** Issue 26, finding 9: the SQLite database (users, token hashes, code MACs) is readable by its owner only. */
describe('SQLite file permissions', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'pv-perm-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('creates the data directory 0700 and the database, its -wal and -shm 0600', async () => {
    const file = join(dir, 'var', 'data', 'db.sqlite');
    const t = await startApp('sqlite', { DATABASE_URL: file }, { dir });
    try {
      await createOrg(t);
      expect(modeOf(join(dir, 'var'))).toBe(0o700);
      expect(modeOf(join(dir, 'var', 'data'))).toBe(0o700);
      for (const path of [file, `${file}-wal`, `${file}-shm`]) {
        expect([path, existsSync(path) && modeOf(path)]).toEqual([path, 0o600]);
      }
    } finally {
      await t.close();
    }
  }, 60_000);

  it('tightens the files of an existing database to 0600 and leaves an existing directory as it is', async () => {
    const data = join(dir, 'shared');
    mkdirSync(data, { mode: 0o755 });
    chmodSync(data, 0o755);
    const file = join(data, 'db.sqlite');
    const old = new Database(file);
    old.pragma('journal_mode = WAL');
    old.prepare('CREATE TABLE leftover (id INTEGER)').run();
    old.close();
    chmodSync(file, 0o644);
    const t = await startApp('sqlite', { DATABASE_URL: `sqlite:${file}` }, { dir });
    try {
      expect(modeOf(file)).toBe(0o600);
      expect(modeOf(data)).toBe(0o755);
    } finally {
      await t.close();
    }
  }, 60_000);
});
