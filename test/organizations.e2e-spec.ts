import { createMachineWithToken, createOrg } from './support/factories';
import { bearer, DATABASES, dataSourceOf, startApp, TestApp } from './support/test-app';
import {
  errorBody,
  ID,
  PERMISSION_DENIED,
  TIME,
  NO_TOKEN,
  UNAUTHENTICATED,
  USER_NOT_FOUND,
  validationBody,
  violatedFields,
} from './support/wire';

const ORG_EXISTS = errorBody(6, 'ORG-lapo2m', 'Organisation already exists');

describe.each(DATABASES)('OrganizationsController: AddOrganization (%s)', (db) => {
  let t: TestApp;
  let home: string;
  let managerHome: { userId: string; token: string };
  let roleless: { userId: string; token: string };

  const addOrganization = (body: object, token = t.adminToken) =>
    t.http().post('/v2/organizations').set(bearer(token)).send(body);
  const countOf = async (table: string) =>
    Number((await dataSourceOf(t).query(`SELECT COUNT(*) AS n FROM ${table}`))[0].n);

  beforeAll(async () => {
    t = await startApp(db);
    home = await createOrg(t, 'Home');
    managerHome = await createMachineWithToken(t, home, [{ scope: home, role: 'ORG_USER_MANAGER' }]);
    roleless = await createMachineWithToken(t, home);
  }, 60_000);
  afterAll(() => t?.close(), 60_000);

  it('creates an organization: {details, organizationId}', async () => {
    const res = await addOrganization({ name: 'ACME Corp.' }).expect(200);
    expect(res.body).toEqual({
      details: { sequence: '1', changeDate: TIME, resourceOwner: res.body.organizationId },
      organizationId: ID,
    });
    const rows = await dataSourceOf(t).query(
      `SELECT name, domain FROM organizations WHERE id = ${db === 'postgres' ? '$1' : '?'}`,
      [res.body.organizationId],
    );
    expect(rows).toEqual([{ name: 'ACME Corp.', domain: 'acme-corp.localhost' }]);
  });

  it('takes a given organization id (organizationId, or org_id in snake_case)', async () => {
    const res = await addOrganization({ name: 'Given Id', organizationId: `org-given-${db}` }).expect(200);
    expect(res.body.organizationId).toBe(`org-given-${db}`);
    expect(res.body.details.resourceOwner).toBe(`org-given-${db}`);
    const snake = await addOrganization({ name: 'Given Snake', org_id: `org-snake-${db}` }).expect(200);
    expect(snake.body.organizationId).toBe(`org-snake-${db}`);
  });

  it('creates human admins (ORG_OWNER by default) and grants roles to existing users', async () => {
    const existing = await createMachineWithToken(t, home);
    const res = await addOrganization({
      name: 'With Admins',
      admins: [
        {
          human: {
            profile: { givenName: 'Ada', familyName: 'Admin' },
            email: { email: `ada.${db}@example.com`, isVerified: true },
            phone: { phone: '+41791234567', returnCode: {} },
          },
        },
        { user_id: existing.userId, roles: ['ORG_USER_MANAGER'] },
      ],
    }).expect(200);
    const orgId = res.body.organizationId;
    expect(res.body).toEqual({
      details: { sequence: '1', changeDate: TIME, resourceOwner: orgId },
      organizationId: ID,
      createdAdmins: [{ userId: ID, phoneCode: expect.stringMatching(/^\d{6}$/) }],
    });

    // the human admin lives in the new organization, owns it, and can act in it
    const adminId = res.body.createdAdmins[0].userId;
    const read = await t.http().get(`/v2/users/${adminId}`).set(bearer(t.adminToken)).expect(200);
    expect(read.body.details.resourceOwner).toBe(orgId);
    expect(read.body.user.human.phone).toEqual({ phone: '+41791234567' });
    const param = db === 'postgres' ? '$1' : '?';
    const grants = await dataSourceOf(t).query(
      `SELECT user_id, role FROM memberships WHERE scope = ${param} ORDER BY role`,
      [orgId],
    );
    expect(grants).toEqual([
      { user_id: adminId, role: 'ORG_OWNER' },
      { user_id: existing.userId, role: 'ORG_USER_MANAGER' },
    ]);

    // the existing user now manages the new organization (and only that one)
    await t
      .http()
      .post('/v2/users/new')
      .set(bearer(existing.token))
      .send({ organizationId: orgId, machine: { name: 'made by the new manager' } })
      .expect(200);
    await t
      .http()
      .post('/v2/users/new')
      .set(bearer(existing.token))
      .send({ organizationId: home, machine: { name: 'not here' } })
      .expect(403);
  });

  it('gives organizations with non-latin names distinct domains', async () => {
    const first = await addOrganization({ name: '日本' }).expect(200);
    const second = await addOrganization({ name: '中国' }).expect(200);
    expect(first.body.organizationId).not.toBe(second.body.organizationId);
  });

  it('accepts 200 code points of a name whose slug would outgrow a domain', async () => {
    await addOrganization({ name: 'ﬃ'.repeat(200) }).expect(200);
    await addOrganization({ name: '😀'.repeat(200) }).expect(200);
    const tooLong = await addOrganization({ name: '😀'.repeat(201) }).expect(400);
    expect(tooLong.body).toEqual(validationBody(['name']));
    expect(violatedFields(tooLong.body)).toEqual(['name']);
  });

  it('lists every violated field', async () => {
    const res = await addOrganization({
      admins: [
        { userId: '1', human: { profile: { givenName: 'A', familyName: 'B' }, email: { email: 'a@b.ch' } } },
        { userId: '2', roles: ['IAM_OWNER'] },
        { human: { profile: { givenName: '', familyName: 'B' }, email: { email: 'nope' } } },
      ],
    }).expect(400);
    const fields = [
      'admins.0.human',
      'admins.0.userId',
      'admins.1.roles',
      'admins.2.human.email.email',
      'admins.2.human.profile.givenName',
      'name',
    ];
    expect(res.body).toEqual(validationBody(fields));
    expect(violatedFields(res.body)).toEqual(fields);
  });

  it('refuses a second organization with the same name (409)', async () => {
    await addOrganization({ name: `Twice ${db}` }).expect(200);
    expect((await addOrganization({ name: `Twice ${db}` }).expect(409)).body).toEqual(ORG_EXISTS);
  });

  it('creates nothing when an admin does not exist (404, one transaction)', async () => {
    const orgsBefore = await countOf('organizations');
    const usersBefore = await countOf('users');
    const eventsBefore = await countOf('events');
    const res = await addOrganization({
      name: `Rolled Back ${db}`,
      admins: [
        { human: { profile: { givenName: 'A', familyName: 'B' }, email: { email: `rb.${db}@example.com` } } },
        { userId: '404404' },
      ],
    }).expect(404);
    expect(res.body).toEqual(USER_NOT_FOUND);
    expect(await countOf('organizations')).toBe(orgsBefore);
    expect(await countOf('users')).toBe(usersBefore);
    expect(await countOf('events')).toBe(eventsBefore);
    await addOrganization({ name: `Rolled Back ${db}` }).expect(200);
  });

  it('needs a valid token (401) and IAM_OWNER (403)', async () => {
    expect((await t.http().post('/v2/organizations').send({ name: 'x' }).expect(401)).body).toEqual(NO_TOKEN);
    expect((await addOrganization({ name: 'x' }, 'not-a-token').expect(401)).body).toEqual(UNAUTHENTICATED);
    expect((await addOrganization({ name: 'x' }, roleless.token).expect(403)).body).toEqual(PERMISSION_DENIED);
    expect((await addOrganization({ name: 'x' }, managerHome.token).expect(403)).body).toEqual(PERMISSION_DENIED);
    // 400 comes before 403 (contract §7)
    expect((await addOrganization({}, roleless.token).expect(400)).body).toEqual(validationBody(['name']));
  });
});
