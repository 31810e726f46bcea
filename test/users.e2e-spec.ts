import { createMachineWithToken, createOrg } from './support/factories';
import { bearer, DATABASES, startApp, TestApp } from './support/test-app';
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

const ORG_NOT_FOUND = errorBody(5, 'ORG-iTUSx', 'Organisation not found');
const USER_EXISTS = errorBody(6, 'COMMAND-k2unb', 'User already exists');

let counter = 0;
const email = () => `user${counter++}.${Date.now().toString(36)}@example.com`;

describe.each(DATABASES)('UsersController: AddHumanUser, CreateUser, GetUserByID (%s)', (db) => {
  let t: TestApp;
  let orgA: string;
  let orgB: string;
  let orgADomain: string;
  let roleless: { userId: string; token: string };
  let managerA: { userId: string; token: string };
  let managerB: { userId: string; token: string };
  let viewerA: { userId: string; token: string };

  const as = (token: string) => ({
    post: (path: string, body: object) => t.http().post(path).set(bearer(token)).send(body),
    get: (path: string) => t.http().get(path).set(bearer(token)),
  });
  const admin = () => as(t.adminToken);

  const minimalHuman = (orgId: string) => ({
    organization: { orgId },
    profile: { givenName: 'Minnie', familyName: 'Mouse' },
    email: { email: email() },
  });

  beforeAll(async () => {
    t = await startApp(db);
    orgA = await createOrg(t, `Users A ${db}`);
    orgB = await createOrg(t, `Users B ${db}`);
    orgADomain = `users-a-${db}.localhost`;
    roleless = await createMachineWithToken(t, orgA);
    managerA = await createMachineWithToken(t, orgA, [{ scope: orgA, role: 'ORG_USER_MANAGER' }]);
    managerB = await createMachineWithToken(t, orgB, [{ scope: orgB, role: 'ORG_USER_MANAGER' }]);
    viewerA = await createMachineWithToken(t, orgA, [{ scope: orgA, role: 'ORG_OWNER_VIEWER' }]);
  }, 60_000);
  afterAll(() => t?.close(), 60_000);

  describe('AddHumanUser', () => {
    it('creates a human user and answers with its id and the details of the last event', async () => {
      const res = await admin().post('/v2/users/human', minimalHuman(orgA)).expect(200);
      expect(res.body).toEqual({
        userId: ID,
        details: { sequence: '1', changeDate: TIME, resourceOwner: orgA },
      });
    });

    it('stores every field and GetUserByID returns them in the exact protobuf JSON shape', async () => {
      const address = email();
      const created = await admin()
        .post('/v2/users/human', {
          userId: `human-${db}-full`,
          username: `minnie-${db}`,
          organization: { orgDomain: orgADomain },
          profile: {
            givenName: 'Minnie',
            familyName: 'Mouse',
            nickName: 'Mini',
            displayName: 'Minnie M.',
            preferredLanguage: 'en',
            gender: 'GENDER_FEMALE',
          },
          email: { email: address, isVerified: true },
          phone: { phone: '+41 79 123 45 67', isVerified: true },
        })
        .expect(200);
      expect(created.body).toEqual({
        userId: `human-${db}-full`,
        details: { sequence: '3', changeDate: TIME, resourceOwner: orgA },
      });

      const res = await admin().get(`/v2/users/human-${db}-full`).expect(200);
      const details = {
        sequence: '3',
        changeDate: created.body.details.changeDate,
        resourceOwner: orgA,
        creationDate: created.body.details.changeDate,
      };
      expect(res.body).toEqual({
        details,
        user: {
          userId: `human-${db}-full`,
          details,
          state: 'USER_STATE_ACTIVE',
          username: `minnie-${db}`,
          loginNames: [`minnie-${db}@${orgADomain}`],
          preferredLoginName: `minnie-${db}@${orgADomain}`,
          human: {
            profile: {
              givenName: 'Minnie',
              familyName: 'Mouse',
              nickName: 'Mini',
              displayName: 'Minnie M.',
              preferredLanguage: 'en',
              gender: 'GENDER_FEMALE',
            },
            email: { email: address, isVerified: true },
            phone: { phone: '+41791234567', isVerified: true },
          },
        },
      });
    });

    it('leaves default values out: no phone, unverified e-mail, unspecified gender', async () => {
      const body = minimalHuman(orgA);
      const created = await admin().post('/v2/users/human', body).expect(200);
      const res = await admin().get(`/v2/users/${created.body.userId}`).expect(200);
      expect(res.body.user.username).toBe(body.email.email);
      expect(res.body.user.human).toEqual({
        profile: { givenName: 'Minnie', familyName: 'Mouse', displayName: 'Minnie Mouse' },
        email: { email: body.email.email },
        phone: {},
      });
    });

    it('answers without X-Powered-By or ETag, and a conditional GET gets the whole answer again', async () => {
      const created = await admin().post('/v2/users/human', minimalHuman(orgA)).expect(200);
      const res = await admin().get(`/v2/users/${created.body.userId}`).expect(200);
      expect(res.headers['x-powered-by']).toBeUndefined();
      expect(res.headers.etag).toBeUndefined();
      expect(created.headers.etag).toBeUndefined();
      // Express would answer these with an empty 304, though it never sent an ETag or a date
      const again = await admin().get(`/v2/users/${created.body.userId}`).set('If-None-Match', '*').expect(200);
      expect(again.body).toEqual(res.body);
      const since = await admin()
        .get(`/v2/users/${created.body.userId}`)
        .set('If-Modified-Since', new Date(Date.now() + 86_400_000).toUTCString())
        .expect(200);
      expect(since.body).toEqual(res.body);
    });

    it('accepts snake_case field names', async () => {
      const address = email();
      const created = await admin()
        .post('/v2/users/human', {
          user_id: `snake-${db}`,
          organization: { org_id: orgA },
          profile: { given_name: 'Snake', family_name: 'Case', preferred_language: 'de', nick_name: 'sc' },
          email: { email: address, is_verified: true },
          phone: { phone: '+41791234568', return_code: {} },
        })
        .expect(200);
      expect(created.body).toEqual({
        userId: `snake-${db}`,
        details: { sequence: '3', changeDate: TIME, resourceOwner: orgA },
        phoneCode: expect.stringMatching(/^\d{6}$/),
      });
      const res = await admin().get(`/v2/users/snake-${db}`).expect(200);
      expect(res.body.user.human).toEqual({
        profile: {
          givenName: 'Snake',
          familyName: 'Case',
          nickName: 'sc',
          displayName: 'Snake Case',
          preferredLanguage: 'de',
        },
        email: { email: address, isVerified: true },
        phone: { phone: '+41791234568' },
      });
    });

    it('treats an empty phone number as no phone', async () => {
      const created = await admin()
        .post('/v2/users/human', { ...minimalHuman(orgA), phone: { phone: '' } })
        .expect(200);
      expect(created.body.details.sequence).toBe('1');
      const res = await admin().get(`/v2/users/${created.body.userId}`).expect(200);
      expect(res.body.user.human.phone).toEqual({});
    });

    it('counts lengths in code points: 200 emoji are a valid given name, 201 are not', async () => {
      const ok = await admin()
        .post('/v2/users/human', { ...minimalHuman(orgA), profile: { givenName: '😀'.repeat(200), familyName: 'M' } })
        .expect(200);
      const res = await admin().get(`/v2/users/${ok.body.userId}`).expect(200);
      // the default display name "given family" is cut to the 200 code points a display name may have
      expect(res.body.user.human.profile).toEqual({
        givenName: '😀'.repeat(200),
        familyName: 'M',
        displayName: '😀'.repeat(200),
      });

      const tooLong = await admin()
        .post('/v2/users/human', { ...minimalHuman(orgA), profile: { givenName: '😀'.repeat(201), familyName: 'M' } })
        .expect(400);
      expect(tooLong.body).toEqual(validationBody(['profile.givenName']));
      expect(violatedFields(tooLong.body)).toEqual(['profile.givenName']);
    });

    it('lists every violated field, once each', async () => {
      const res = await admin()
        .post('/v2/users/human', {
          userId: '',
          organization: { orgId: orgA, orgDomain: orgADomain },
          profile: { givenName: '', preferredLanguage: 'much-too-long', gender: 'GENDER_ROBOT' },
          email: { email: 'not-an-address', isVerified: 'yes' },
          phone: { phone: '+41791234567', isVerified: false },
        })
        .expect(400);
      const fields = [
        'email.email',
        'email.isVerified',
        'organization.orgDomain',
        'organization.orgId',
        'phone.isVerified',
        'profile.familyName',
        'profile.gender',
        'profile.givenName',
        'profile.preferredLanguage',
        'userId',
      ];
      expect(res.body).toEqual(validationBody(fields));
      expect(violatedFields(res.body)).toEqual(fields);
    });

    it('requires profile and email', async () => {
      const res = await admin().post('/v2/users/human', {}).expect(400);
      expect(violatedFields(res.body)).toEqual(['email', 'profile']);
    });

    it('refuses e-mail codes as unimplemented', async () => {
      const res = await admin()
        .post('/v2/users/human', { ...minimalHuman(orgA), email: { email: email(), returnCode: {} } })
        .expect(501);
      expect(res.body).toEqual(
        errorBody(12, 'API-unimpl', 'E-mail verification codes (email.sendCode / email.returnCode) is not supported'),
      );
    });

    it('refuses a second user with the same id or the same username in the organization (409)', async () => {
      await admin()
        .post('/v2/users/human', { ...minimalHuman(orgA), userId: `dup-${db}` })
        .expect(200);
      const sameId = await admin()
        .post('/v2/users/human', { ...minimalHuman(orgA), userId: `dup-${db}` })
        .expect(409);
      expect(sameId.body).toEqual(USER_EXISTS);
      await admin()
        .post('/v2/users/human', { ...minimalHuman(orgA), username: `taken-${db}` })
        .expect(200);
      const sameName = await admin()
        .post('/v2/users/human', { ...minimalHuman(orgA), username: `taken-${db}` })
        .expect(409);
      expect(sameName.body).toEqual(USER_EXISTS);
      // usernames are unique per organization only
      await admin()
        .post('/v2/users/human', { ...minimalHuman(orgB), username: `taken-${db}` })
        .expect(200);
    });

    it('answers 404 for an unknown organization', async () => {
      const byId = await admin().post('/v2/users/human', minimalHuman('404404')).expect(404);
      expect(byId.body).toEqual(ORG_NOT_FOUND);
      const byDomain = await admin()
        .post('/v2/users/human', { ...minimalHuman(orgA), organization: { orgDomain: 'nowhere.localhost' } })
        .expect(404);
      expect(byDomain.body).toEqual(ORG_NOT_FOUND);
    });

    it('needs a valid token (401)', async () => {
      const res = await t.http().post('/v2/users/human').send(minimalHuman(orgA)).expect(401);
      expect(res.body).toEqual(NO_TOKEN);
      expect(res.headers['www-authenticate']).toBe('Bearer');
      const unknown = await as('x'.repeat(43)).post('/v2/users/human', minimalHuman(orgA)).expect(401);
      expect(unknown.body).toEqual(UNAUTHENTICATED);
    });

    it('needs user.write on the target organization (403; 404 for another organization it may not read)', async () => {
      expect((await as(roleless.token).post('/v2/users/human', minimalHuman(orgA)).expect(403)).body).toEqual(
        PERMISSION_DENIED,
      );
      expect((await as(viewerA.token).post('/v2/users/human', minimalHuman(orgA)).expect(403)).body).toEqual(
        PERMISSION_DENIED,
      );
      expect((await as(managerB.token).post('/v2/users/human', minimalHuman(orgA)).expect(404)).body).toEqual(
        ORG_NOT_FOUND,
      );
      // without an organization, the caller's own is the target
      const own = await as(managerB.token)
        .post('/v2/users/human', { profile: { givenName: 'O', familyName: 'B' }, email: { email: email() } })
        .expect(200);
      expect(own.body.details.resourceOwner).toBe(orgB);
      await as(managerA.token).post('/v2/users/human', minimalHuman(orgA)).expect(200);
    });
  });

  describe('CreateUser', () => {
    it('creates a human user: {id, creationDate}', async () => {
      const res = await admin()
        .post('/v2/users/new', {
          organizationId: orgA,
          human: { profile: { givenName: 'New', familyName: 'Human' }, email: { email: email() } },
        })
        .expect(200);
      expect(res.body).toEqual({ id: ID, creationDate: TIME });
      const read = await admin().get(`/v2/users/${res.body.id}`).expect(200);
      expect(read.body.details.creationDate).toBe(res.body.creationDate);
    });

    it('returns the phone code of a human created with phone.returnCode', async () => {
      const res = await admin()
        .post('/v2/users/new', {
          organizationId: orgA,
          human: {
            profile: { givenName: 'New', familyName: 'Human' },
            email: { email: email() },
            phone: { phone: '+41791234569', returnCode: {} },
          },
        })
        .expect(200);
      expect(res.body).toEqual({ id: ID, creationDate: TIME, phoneCode: expect.stringMatching(/^\d{6}$/) });
    });

    it('creates a machine user, and GetUserByID returns it in the exact shape', async () => {
      const res = await admin()
        .post('/v2/users/new', {
          organization_id: orgA,
          user_id: `machine-${db}`,
          username: `robot-${db}`,
          machine: { name: 'Robot', description: 'does things' },
        })
        .expect(200);
      expect(res.body).toEqual({ id: `machine-${db}`, creationDate: TIME });

      const read = await admin().get(`/v2/users/machine-${db}`).expect(200);
      const details = {
        sequence: '1',
        changeDate: res.body.creationDate,
        resourceOwner: orgA,
        creationDate: res.body.creationDate,
      };
      expect(read.body).toEqual({
        details,
        user: {
          userId: `machine-${db}`,
          details,
          state: 'USER_STATE_ACTIVE',
          username: `robot-${db}`,
          loginNames: [`robot-${db}@${orgADomain}`],
          preferredLoginName: `robot-${db}@${orgADomain}`,
          machine: { name: 'Robot', description: 'does things' },
        },
      });
    });

    it('names the machine user after its name when no username is given', async () => {
      const res = await admin()
        .post('/v2/users/new', { organizationId: orgA, machine: { name: `unnamed-${db}` } })
        .expect(200);
      const read = await admin().get(`/v2/users/${res.body.id}`).expect(200);
      expect(read.body.user.username).toBe(`unnamed-${db}`);
      expect(read.body.user.machine).toEqual({ name: `unnamed-${db}` });
    });

    it('requires an organization and exactly one of human or machine', async () => {
      const empty = await admin().post('/v2/users/new', {}).expect(400);
      expect(empty.body).toEqual(validationBody(['human', 'organizationId']));
      expect(violatedFields(empty.body)).toEqual(['human', 'organizationId']);

      const both = await admin()
        .post('/v2/users/new', {
          organizationId: orgA,
          human: { profile: { givenName: 'A', familyName: 'B' }, email: { email: email() } },
          machine: { name: 'both' },
        })
        .expect(400);
      expect(violatedFields(both.body)).toEqual(['human', 'machine']);

      const badMachine = await admin()
        .post('/v2/users/new', { organizationId: orgA, machine: { name: '', description: 'd'.repeat(501) } })
        .expect(400);
      expect(violatedFields(badMachine.body)).toEqual(['machine.description', 'machine.name']);
    });

    it('answers 404 for an unknown organization', async () => {
      const res = await admin()
        .post('/v2/users/new', { organizationId: '404404', machine: { name: 'm' } })
        .expect(404);
      expect(res.body).toEqual(ORG_NOT_FOUND);
    });

    it('needs a valid token (401) and user.write on the organization (403, 404 when it may not read it)', async () => {
      const body = { organizationId: orgA, machine: { name: 'perm' } };
      expect((await t.http().post('/v2/users/new').send(body).expect(401)).body).toEqual(NO_TOKEN);
      expect((await as(roleless.token).post('/v2/users/new', body).expect(403)).body).toEqual(PERMISSION_DENIED);
      expect((await as(managerB.token).post('/v2/users/new', body).expect(404)).body).toEqual(ORG_NOT_FOUND);
      await as(managerA.token).post('/v2/users/new', body).expect(200);
    });
  });

  describe('GetUserByID', () => {
    let target: string;
    beforeAll(async () => {
      target = (await admin().post('/v2/users/human', minimalHuman(orgA)).expect(200)).body.userId;
    });

    it('lets a caller read itself without any role', async () => {
      const res = await as(roleless.token).get(`/v2/users/${roleless.userId}`).expect(200);
      expect(res.body.user.userId).toBe(roleless.userId);
      expect(res.body.user.machine).toEqual({ name: 'robot' });
    });

    it('lets ORG_OWNER_VIEWER and ORG_USER_MANAGER of the organization read its users', async () => {
      expect((await as(viewerA.token).get(`/v2/users/${target}`).expect(200)).body.user.userId).toBe(target);
      expect((await as(managerA.token).get(`/v2/users/${target}`).expect(200)).body.user.userId).toBe(target);
    });

    it('answers a caller without user.read on the user as for an unknown user (404)', async () => {
      expect((await as(roleless.token).get(`/v2/users/${target}`).expect(404)).body).toEqual(USER_NOT_FOUND);
      expect((await as(managerB.token).get(`/v2/users/${target}`).expect(404)).body).toEqual(USER_NOT_FOUND);
    });

    it('answers 404 for an unknown user, and 400 for an id over 200 characters', async () => {
      expect((await admin().get('/v2/users/404404').expect(404)).body).toEqual(USER_NOT_FOUND);
      const tooLong = await admin()
        .get(`/v2/users/${'1'.repeat(201)}`)
        .expect(400);
      expect(tooLong.body).toEqual(validationBody(['userId']));
      expect(violatedFields(tooLong.body)).toEqual(['userId']);
    });

    it('needs a valid token (401)', async () => {
      expect((await t.http().get(`/v2/users/${target}`).expect(401)).body).toEqual(NO_TOKEN);
      for (const header of ['Bearer', 'Bearer ', 'Basic dXNlcjpwYXNz', `Token ${t.adminToken}`, 'Bearer a b']) {
        const res = await t.http().get(`/v2/users/${target}`).set('Authorization', header).expect(401);
        expect(res.body).toEqual(NO_TOKEN);
      }
      const unknown = await t
        .http()
        .get(`/v2/users/${target}`)
        .set(bearer(`${t.adminToken}x`))
        .expect(401);
      expect(unknown.body).toEqual(UNAUTHENTICATED);
    });
  });
});
