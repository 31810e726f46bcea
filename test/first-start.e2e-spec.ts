import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { DataSource } from 'typeorm';
import { createApp } from '../src/app.setup';
import { IdGenerator } from '../src/common/ids/id-generator';
import { FirstStartService } from '../src/users/first-start.service';
import {
  bearer,
  createPgSchema,
  DATABASES,
  dataSourceOf,
  Db,
  dropPgSchema,
  PG_URL,
  startApp,
  TestApp,
} from './support/test-app';

interface Snapshot {
  organizations: unknown[];
  users: unknown[];
  memberships: unknown[];
  tokens: unknown[];
  events: unknown[];
}

async function snapshot(t: TestApp): Promise<Snapshot> {
  const ds = dataSourceOf(t);
  return {
    organizations: await ds.query('SELECT id, name, domain, sequence FROM organizations ORDER BY id'),
    users: await ds.query('SELECT id, org_id, type, state, username, machine_name, sequence FROM users ORDER BY id'),
    memberships: await ds.query(
      'SELECT user_id, scope, role, CASE WHEN instance THEN 1 ELSE 0 END AS instance FROM memberships ORDER BY id',
    ),
    tokens: await ds.query('SELECT id, user_id, token_hash, expires_at FROM personal_access_tokens ORDER BY id'),
    events: await ds.query('SELECT aggregate_id, sequence, type FROM events ORDER BY aggregate_id, sequence'),
  };
}

describe.each(DATABASES)(`${FirstStartService.name} (%s)`, (db: Db) => {
  let dir: string;
  let schema: string | undefined;
  let patPath: string;
  let first: TestApp;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'pv-first-'));
    schema = db === 'postgres' ? await createPgSchema() : undefined;
    patPath = join(dir, 'secrets', 'nested', 'admin.pat');
    first = await startApp(
      db,
      { FIRST_INSTANCE_PAT_PATH: patPath, FIRST_INSTANCE_ORG_NAME: 'Instance' },
      { dir, schema },
    );
  }, 60_000);
  afterAll(async () => {
    await first?.close();
    if (schema) await dropPgSchema(schema);
    rmSync(dir, { recursive: true, force: true });
  }, 60_000);

  it('writes the admin token to FIRST_INSTANCE_PAT_PATH, creating the folders, readable by the owner only', () => {
    const stat = statSync(patPath);
    expect(stat.isFile()).toBe(true);
    expect(stat.mode & 0o777).toBe(0o600);
    const content = readFileSync(patPath, 'utf8');
    expect(content).toMatch(/^[A-Za-z0-9_-]{43}\n$/);
    expect(first.adminToken).toBe(content.trim());
  });

  it('creates one organization and a machine user holding IAM_OWNER instance-wide', async () => {
    const state = await snapshot(first);
    expect(state.organizations).toEqual([
      { id: expect.any(String), name: 'Instance', domain: 'instance.localhost', sequence: 1 },
    ]);
    const orgId = (state.organizations[0] as { id: string }).id;
    expect(state.users).toEqual([
      {
        id: expect.any(String),
        org_id: orgId,
        type: 'machine',
        state: 1,
        username: 'admin',
        machine_name: 'Administrator',
        sequence: 2,
      },
    ]);
    const adminId = (state.users[0] as { id: string }).id;
    // instance-wide: a flag of its own, no organization id
    expect(state.memberships).toEqual([{ user_id: adminId, scope: '', role: 'IAM_OWNER', instance: 1 }]);
    // IDs are time-ordered: the organization's comes first
    expect(state.events).toEqual([
      { aggregate_id: orgId, sequence: 1, type: 'org.added' },
      { aggregate_id: adminId, sequence: 1, type: 'user.machine.added' },
      { aggregate_id: adminId, sequence: 2, type: 'user.personal.access.token.added' },
    ]);
  });

  it('gives a token that works and carries IAM_OWNER', async () => {
    const [{ id: adminId }] = (await snapshot(first)).users as Array<{ id: string }>;
    const self = await first.http().get(`/v2/users/${adminId}`).set(bearer(first.adminToken)).expect(200);
    expect(self.body.user.machine).toEqual({ name: 'Administrator', description: 'created at first start' });
    // only IAM_OWNER may add organizations
    await first.http().post('/v2/organizations').set(bearer(first.adminToken)).send({ name: 'Proof' }).expect(200);
  });

  it("logs the file's path and never the token", () => {
    const lines = first.logs.map((line) => JSON.parse(line) as { msg?: string; path?: string });
    expect(lines).toContainEqual(
      expect.objectContaining({
        path: patPath,
        msg: 'first start: created the instance; the admin token is in this file',
      }),
    );
    expect(first.logs.join('\n')).not.toContain(first.adminToken);
  });

  it('changes nothing on a second start of the same database and folder (on PostgreSQL even while the first runs)', async () => {
    const before = await snapshot(first);
    const fileBefore = statSync(patPath);
    if (db === 'sqlite') {
      // one instance per SQLite file (issue 28): refused while the first runs, so after it
      await expect(startApp(db, { FIRST_INSTANCE_PAT_PATH: patPath }, { dir, schema })).rejects.toThrow(
        /^DATABASE_URL .*another instance uses that file/,
      );
      await first.close();
    }
    const second = await startApp(db, { FIRST_INSTANCE_PAT_PATH: patPath }, { dir, schema });
    try {
      expect(second.adminToken).toBe(first.adminToken);
      expect(await snapshot(second)).toEqual(before);
      const fileAfter = statSync(patPath);
      expect([fileAfter.mtimeMs, fileAfter.ino, fileAfter.mode & 0o777]).toEqual([
        fileBefore.mtimeMs,
        fileBefore.ino,
        0o600,
      ]);
      const lines = second.logs.map((line) => JSON.parse(line) as { msg?: string; path?: string });
      expect(lines).toContainEqual(
        expect.objectContaining({
          path: patPath,
          msg: 'instance already set up; the admin token (from first start) is in this file',
        }),
      );
      expect(second.logs.join('\n')).not.toContain(first.adminToken);
      // two instances on one database hold different node ids, so their IDs never collide
      if (db === 'postgres') expect(second.app.get(IdGenerator).nodeId).not.toBe(first.app.get(IdGenerator).nodeId);
      await second.http().get('/healthz').expect(200);
    } finally {
      await second.close();
    }
  }, 60_000);
});

describe.each(DATABASES)(`${FirstStartService.name}: an existing token file (%s)`, (db: Db) => {
  it('refuses to overwrite a token file on an empty instance, and creates nothing', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'pv-first-'));
    const schema = db === 'postgres' ? await createPgSchema() : undefined;
    const patPath = join(dir, 'keep', 'admin.pat');
    mkdirSync(join(dir, 'keep'));
    writeFileSync(patPath, 'somebody else’s file\n', { mode: 0o644 });
    const app = await createApp({
      env: {
        NODE_ENV: 'test',
        SMS_PROVIDER: 'none',
        DATABASE_URL: db === 'postgres' ? PG_URL : join(dir, 'db.sqlite'),
        DATABASE_SCHEMA: schema,
        FIRST_INSTANCE_PAT_PATH: patPath,
        CODE_HMAC_KEY_FILE: join(dir, 'code-hmac.key'),
        HOST: '127.0.0.1',
      },
      logStream: new Writable({ write: (_chunk, _enc, done) => done() }),
    });
    try {
      await expect(app.init()).rejects.toThrow(
        `first start: ${patPath} already exists; refusing to overwrite it. Set FIRST_INSTANCE_PAT_PATH to a new file`,
      );
      expect(readFileSync(patPath, 'utf8')).toBe('somebody else’s file\n');
      expect(statSync(patPath).mode & 0o777).toBe(0o644);
      const ds = app.get(DataSource);
      expect(Number((await ds.query('SELECT COUNT(*) AS n FROM organizations'))[0].n)).toBe(0);
      expect(Number((await ds.query('SELECT COUNT(*) AS n FROM events'))[0].n)).toBe(0);
    } finally {
      await app.close();
      if (schema) await dropPgSchema(schema);
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
