import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DataSource } from 'typeorm';
import { openDatabase } from '../src/database/database.module';
import { dataSourceOptions } from '../src/database/data-source-options';
import { MIGRATIONS } from '../src/database/migrations';
import { InstanceScope1764531000000 } from '../src/database/migrations/1764531000000-InstanceScope';
import { RESOURCE_OWNER_CLAIM } from '../src/users/token.service';
import { eventsOf } from './support/events';
import { createHuman, createMachineWithToken, createOrg } from './support/factories';
import { jwtSigner } from './support/jwt';
import {
  bearer,
  createPgSchema,
  dataSourceOf,
  DATABASES,
  Db,
  dropPgSchema,
  grantRoles,
  PG_URL,
  startApp,
  TestApp,
} from './support/test-app';
import { TRANSPORTS, transportCaller } from './support/transports';
import { errorBody, PERMISSION_DENIED, UNAUTHENTICATED, USER_NOT_FOUND } from './support/wire';

const ORG_NOT_FOUND = errorBody(5, 'ORG-iTUSx', 'Organisation not found');
/** Issue 26, findings 1, 2, 7 and 8: no tenant reaches another through the user and organization methods. */
describe.each(DATABASES)('tenancy (%s)', (db) => {
  let t: TestApp;
  let dir: string;
  let jwt: Awaited<ReturnType<typeof jwtSigner>>;
  let orgB: string;
  let orgC: string;
  /** ORG_USER_MANAGER of B */
  let managerB: { userId: string; token: string };
  /** a machine user of B that owns organization C (AddOrganization's admins[].userId) */
  let ownerOfC: { userId: string; token: string };
  let humanC: string;

  const as = (token: string) => ({
    get: (path: string) => t.http().get(path).set(bearer(token)),
    post: (path: string, body: object = {}) => t.http().post(path).set(bearer(token)).send(body),
    delete: (path: string) => t.http().delete(path).set(bearer(token)),
  });
  const admin = () => as(t.adminToken);
  const param = (n: number) => (db === 'postgres' ? `$${n}` : '?');
  const tokensOf = async (userId: string) =>
    Number(
      (
        await dataSourceOf(t).query(`SELECT COUNT(*) AS n FROM personal_access_tokens WHERE user_id = ${param(1)}`, [
          userId,
        ])
      )[0].n,
    );
  const userCount = async () => Number((await dataSourceOf(t).query('SELECT COUNT(*) AS n FROM users'))[0].n);

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'pv-tenancy-'));
    jwt = await jwtSigner(dir);
    t = await startApp(db, jwt.env);
    orgB = await createOrg(t);
    managerB = await createMachineWithToken(t, orgB, [{ scope: orgB, role: 'ORG_USER_MANAGER' }]);
    ownerOfC = await createMachineWithToken(t, orgB);
    const c = await admin()
      .post('/v2/organizations', { name: `C ${db} ${Date.now()}`, admins: [{ userId: ownerOfC.userId }] })
      .expect(200);
    orgC = c.body.organizationId;
    humanC = (await createHuman(t, { orgId: orgC, phone: '+41791234567', phoneMode: 'isVerified' })).userId;
  }, 60_000);
  afterAll(async () => {
    await t?.close();
    rmSync(dir, { recursive: true, force: true });
  }, 60_000);

  describe('finding 1: acting for a user never hands the caller more than it holds', () => {
    it('refuses to mint a token for, lock, deactivate or delete a user of its organization holding a role elsewhere', async () => {
      // the owner of C can read C's users; its manager in B cannot
      await as(ownerOfC.token).get(`/v2/users/${humanC}`).expect(200);
      await as(managerB.token).get(`/v2/users/${humanC}`).expect(404);
      const before = await eventsOf(t, ownerOfC.userId);
      const tokens = await tokensOf(ownerOfC.userId);

      const refusals = [
        await as(managerB.token).post(`/v2/users/${ownerOfC.userId}/pats`),
        await as(managerB.token).post(`/v2/users/${ownerOfC.userId}/lock`),
        await as(managerB.token).post(`/v2/users/${ownerOfC.userId}/deactivate`),
        await as(managerB.token).delete(`/v2/users/${ownerOfC.userId}`),
      ];

      expect(refusals.map((res) => [res.status, res.body])).toEqual(refusals.map(() => [403, PERMISSION_DENIED]));
      expect(await eventsOf(t, ownerOfC.userId)).toEqual(before);
      expect(await tokensOf(ownerOfC.userId)).toBe(tokens);
      expect((await admin().get(`/v2/users/${ownerOfC.userId}`).expect(200)).body.user.state).toBe('USER_STATE_ACTIVE');
      await as(ownerOfC.token).get(`/v2/users/${humanC}`).expect(200);
    });

    it('still acts for users whose roles it holds, and an IAM_OWNER for anyone', async () => {
      const plain = await createMachineWithToken(t, orgB);
      const viewer = await createMachineWithToken(t, orgB, [{ scope: orgB, role: 'ORG_OWNER_VIEWER' }]);
      await as(managerB.token).post(`/v2/users/${plain.userId}/pats`).expect(200);
      await as(managerB.token).post(`/v2/users/${viewer.userId}/pats`).expect(200);
      await as(managerB.token).post(`/v2/users/${viewer.userId}/lock`).expect(200);
      await grantRoles(t, viewer.userId, orgC, ['ORG_OWNER_VIEWER']);
      expect((await as(managerB.token).post(`/v2/users/${viewer.userId}/unlock`).expect(403)).body).toEqual(
        PERMISSION_DENIED,
      );
      await admin().post(`/v2/users/${ownerOfC.userId}/pats`).expect(200);
    });

    it('refuses an organization owner to act for the first-start IAM_OWNER of its organization', async () => {
      const adminId = (await dataSourceOf(t).query(`SELECT user_id FROM memberships WHERE role = 'IAM_OWNER'`))[0]
        .user_id as string;
      const home = (await admin().get(`/v2/users/${adminId}`).expect(200)).body.details.resourceOwner as string;
      const owner = await createMachineWithToken(t, home, [{ scope: home, role: 'ORG_OWNER' }]);
      expect((await as(owner.token).post(`/v2/users/${adminId}/pats`).expect(403)).body).toEqual(PERMISSION_DENIED);
      expect((await as(owner.token).post(`/v2/users/${adminId}/lock`).expect(403)).body).toEqual(PERMISSION_DENIED);
    });
  });

  describe('finding 2: the instance is no organization id', () => {
    it.each(TRANSPORTS)('refuses reserved and out-of-alphabet ids with INVALID_ARGUMENT (%s)', async (transport) => {
      const client = transportCaller(t, transport);
      try {
        const cases: Array<[string, string, Record<string, unknown>, string, RegExp]> = [
          [
            'OrganizationService',
            'AddOrganization',
            { name: `x ${transport}`, organizationId: 'instance' },
            'organizationId',
            /reserved/,
          ],
          [
            'OrganizationService',
            'AddOrganization',
            { name: `y ${transport}`, organizationId: 'Instance' },
            'organizationId',
            /reserved/,
          ],
          [
            'OrganizationService',
            'AddOrganization',
            { name: `z ${transport}`, organizationId: 'a b' },
            'organizationId',
            /must be 1 to 200 of/,
          ],
          [
            'UserService',
            'CreateUser',
            { organizationId: orgB, userId: 'SYSTEM', machine: { name: 'm' } },
            'userId',
            /reserved/,
          ],
          [
            'UserService',
            'CreateUser',
            { organizationId: orgB, userId: 'a/b', machine: { name: 'm' } },
            'userId',
            /must be 1 to 200 of/,
          ],
        ];
        for (const [service, method, request, field, description] of cases) {
          const result = await client.call(service as never, method, request as never, t.adminToken);
          expect(result).toMatchObject({ ok: false, code: 3 });
          const violations = result.ok
            ? []
            : (result.details.find((d) => d.fieldViolations)?.fieldViolations as object[]);
          expect(violations).toEqual([{ field, description: expect.stringMatching(description) }]);
        }
      } finally {
        client.close();
      }
    });

    it('gives the admins of an organization whose id is "instance" (made before the rule) that organization only', async () => {
      const now = Date.now();
      await dataSourceOf(t).query(
        `INSERT INTO organizations (id, name, domain, sequence, created_at, changed_at) VALUES ('instance', ${param(1)}, ${param(2)}, 0, ${now}, ${now})`,
        [`legacy ${db}`, `instance-${db}.localhost`],
      );
      const legacy = await createMachineWithToken(t, orgB);
      await grantRoles(t, legacy.userId, 'instance', ['ORG_OWNER']);
      expect((await as(legacy.token).get(`/v2/users/${humanC}`).expect(404)).body).toEqual(USER_NOT_FOUND);
      await as(legacy.token)
        .post('/v2/organizations', { name: `nope ${db}` })
        .expect(403);
      await as(legacy.token)
        .post('/v2/users/new', { organizationId: 'instance', machine: { name: 'ok' } })
        .expect(200);
    });
  });

  describe('finding 7: only an IAM_OWNER chooses a user id, and a JWT names its user’s organization', () => {
    it('refuses a chosen id from an organization manager, creating nothing', async () => {
      const users = await userCount();
      const human = { profile: { givenName: 'P', familyName: 'Q' }, email: { email: 'pre@example.com' } };
      const refused = [
        await as(managerB.token).post('/v2/users/new', {
          organizationId: orgB,
          userId: 'pre-made',
          machine: { name: 'm' },
        }),
        await as(managerB.token).post('/v2/users/human', { ...human, userId: 'pre-made' }),
      ];
      expect(refused.map((res) => [res.status, res.body])).toEqual(refused.map(() => [403, PERMISSION_DENIED]));
      expect(await userCount()).toBe(users);
      await as(managerB.token)
        .post('/v2/users/new', { organizationId: orgB, machine: { name: 'm' } })
        .expect(200);
      const chosen = `chosen-${db}`;
      await admin()
        .post('/v2/users/new', { organizationId: orgB, userId: chosen, machine: { name: 'chosen' } })
        .expect(200);
      expect((await admin().get(`/v2/users/${chosen}`).expect(200)).body.user.userId).toBe(chosen);
    });

    it('refuses a JWT whose organization claim is not its user’s', async () => {
      const self = `/v2/users/${humanC}`;
      await as(await jwt.sign(humanC))
        .get(self)
        .expect(200);
      await as(await jwt.sign(humanC, { [RESOURCE_OWNER_CLAIM]: orgC }))
        .get(self)
        .expect(200);
      for (const claim of [orgB, 123, '']) {
        const res = await as(await jwt.sign(humanC, { [RESOURCE_OWNER_CLAIM]: claim })).get(self);
        expect([res.status, res.body]).toEqual([401, UNAUTHENTICATED]);
      }
      const before = await eventsOf(t, humanC);
      const res = await as(await jwt.sign(humanC, { [RESOURCE_OWNER_CLAIM]: orgB })).delete(self);
      expect([res.status, res.body]).toEqual([401, UNAUTHENTICATED]);
      expect(await eventsOf(t, humanC)).toEqual(before);
    });
  });

  describe('finding 8: no answer tells another tenant’s users from unknown ids', () => {
    it('answers reads and changes of a user it may not read as for an unknown user (404)', async () => {
      const before = await eventsOf(t, humanC);
      for (const target of [humanC, 'no-such-user']) {
        const answers = [
          await as(managerB.token).get(`/v2/users/${target}`),
          await as(managerB.token).post(`/v2/users/${target}/lock`),
          await as(managerB.token).post(`/v2/users/${target}/deactivate`),
          await as(managerB.token).post(`/v2/users/${target}/pats`),
          await as(managerB.token).delete(`/v2/users/${target}`),
        ];
        expect(answers.map((res) => [res.status, res.body])).toEqual(answers.map(() => [404, USER_NOT_FOUND]));
      }
      expect(await eventsOf(t, humanC)).toEqual(before);
      // a viewer of C may read the user: it is told it may not change it
      const viewerC = await createMachineWithToken(t, orgC, [{ scope: orgC, role: 'ORG_OWNER_VIEWER' }]);
      expect((await as(viewerC.token).post(`/v2/users/${humanC}/lock`).expect(403)).body).toEqual(PERMISSION_DENIED);
    });

    it('answers an organization it may not read as an unknown one (404)', async () => {
      const human = { profile: { givenName: 'P', familyName: 'Q' }, email: { email: 'org@example.com' } };
      for (const orgId of [orgC, 'no-such-org']) {
        const created = await as(managerB.token).post('/v2/users/new', {
          organizationId: orgId,
          machine: { name: 'm' },
        });
        const added = await as(managerB.token).post('/v2/users/human', { ...human, organization: { orgId } });
        expect([created.status, created.body, added.status, added.body]).toEqual([
          404,
          ORG_NOT_FOUND,
          404,
          ORG_NOT_FOUND,
        ]);
      }
    });

    it('answers a chosen id taken in another organization like any other refusal (no 409)', async () => {
      const taken = `taken-${db}`;
      await admin()
        .post('/v2/users/new', { organizationId: orgC, userId: taken, machine: { name: 'm' } })
        .expect(200);
      const answers = [];
      for (const userId of [taken, `free-${db}`]) {
        answers.push(
          await as(managerB.token).post('/v2/users/new', { organizationId: orgB, userId, machine: { name: 'm' } }),
        );
      }
      expect(answers.map((res) => [res.status, res.body])).toEqual([
        [403, PERMISSION_DENIED],
        [403, PERMISSION_DENIED],
      ]);
    });
  });
});

/** The migration of finding 2 on data written before it. */
describe.each(DATABASES)('InstanceScope migration (%s)', (db: Db) => {
  let dir: string;
  let schema: string | undefined;
  let dataSource: DataSource | undefined;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'pv-instance-scope-'));
    schema = db === 'postgres' ? await createPgSchema() : undefined;
  });
  afterAll(async () => {
    if (dataSource?.isInitialized) await dataSource.destroy();
    if (schema) await dropPgSchema(schema);
    rmSync(dir, { recursive: true, force: true });
  });

  it('turns the IAM_OWNER grants of scope "instance" into instance grants, and keeps organization roles on their organization', async () => {
    const options = dataSourceOptions({
      url: db === 'postgres' ? PG_URL : join(dir, 'db.sqlite'),
      schema,
      poolSize: 2,
    });
    const before = MIGRATIONS.slice(0, MIGRATIONS.indexOf(InstanceScope1764531000000));
    const old = await openDatabase({ ...options, migrations: before } as typeof options);
    await old.query(
      `INSERT INTO memberships (id, user_id, scope, role, created_at) VALUES
         ('1', 'first-admin', 'instance', 'IAM_OWNER', 0),
         ('2', 'owner-of-org-instance', 'instance', 'ORG_OWNER', 0),
         ('3', 'manager', 'org-1', 'ORG_USER_MANAGER', 0)`,
    );
    await old.destroy();

    dataSource = await openDatabase(options);
    const rows = () =>
      dataSource!.query(
        'SELECT user_id, scope, role, CASE WHEN instance THEN 1 ELSE 0 END AS instance FROM memberships ORDER BY id',
      );
    expect(await rows()).toEqual([
      { user_id: 'first-admin', scope: '', role: 'IAM_OWNER', instance: 1 },
      { user_id: 'owner-of-org-instance', scope: 'instance', role: 'ORG_OWNER', instance: 0 },
      { user_id: 'manager', scope: 'org-1', role: 'ORG_USER_MANAGER', instance: 0 },
    ]);

    for (let i = MIGRATIONS.length - 1; i >= MIGRATIONS.indexOf(InstanceScope1764531000000); i--) {
      await dataSource.undoLastMigration({ transaction: 'all' });
    }
    expect(await dataSource.query('SELECT user_id, scope, role FROM memberships ORDER BY id')).toEqual([
      { user_id: 'first-admin', scope: 'instance', role: 'IAM_OWNER' },
      { user_id: 'owner-of-org-instance', scope: 'instance', role: 'ORG_OWNER' },
      { user_id: 'manager', scope: 'org-1', role: 'ORG_USER_MANAGER' },
    ]);
  });
});
