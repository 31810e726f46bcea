import { createHash } from 'node:crypto';
import { createHuman, createMachineWithToken, createOrg } from './support/factories';
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

const NOT_ACTIVE = errorBody(9, 'COMMAND-3M9ds', 'User is not active');
const ALREADY_LOCKED = errorBody(9, 'COMMAND-3NM9s', 'User is already locked');
const NOT_INACTIVE = errorBody(9, 'COMMAND-6br8s', 'User is not inactive');
const NOT_LOCKED = errorBody(9, 'COMMAND-4M0ds', 'User is not locked');
const NOT_MACHINE = errorBody(9, 'COMMAND-Sdg4h', 'User is not a machine user');
const EXPIRATION_IN_PAST = errorBody(3, 'COMMAND-dv3t5', 'Expiration date must be in the future');

describe.each(DATABASES)('UsersController: state changes, DeleteUser, AddPersonalAccessToken (%s)', (db) => {
  let t: TestApp;
  let orgA: string;
  let orgB: string;
  let roleless: { userId: string; token: string };
  let managerA: { userId: string; token: string };
  let managerB: { userId: string; token: string };
  let viewerA: { userId: string; token: string };

  const as = (token: string) => ({
    post: (path: string, body: object = {}) => t.http().post(path).set(bearer(token)).send(body),
    get: (path: string) => t.http().get(path).set(bearer(token)),
    delete: (path: string) => t.http().delete(path).set(bearer(token)),
  });
  const admin = () => as(t.adminToken);
  const stateOf = async (userId: string) => (await admin().get(`/v2/users/${userId}`).expect(200)).body.user.state;

  beforeAll(async () => {
    t = await startApp(db);
    orgA = await createOrg(t);
    orgB = await createOrg(t);
    roleless = await createMachineWithToken(t, orgA);
    managerA = await createMachineWithToken(t, orgA, [{ scope: orgA, role: 'ORG_USER_MANAGER' }]);
    managerB = await createMachineWithToken(t, orgB, [{ scope: orgB, role: 'ORG_USER_MANAGER' }]);
    viewerA = await createMachineWithToken(t, orgA, [{ scope: orgA, role: 'ORG_OWNER_VIEWER' }]);
  }, 60_000);
  afterAll(() => t?.close(), 60_000);

  describe('DeactivateUser, ReactivateUser, LockUser, UnlockUser', () => {
    it('moves a user through its states, one event each, with the details of that event', async () => {
      const { userId } = await createHuman(t, { orgId: orgA });
      const steps: Array<[string, string]> = [
        ['deactivate', 'USER_STATE_INACTIVE'],
        ['reactivate', 'USER_STATE_ACTIVE'],
        ['lock', 'USER_STATE_LOCKED'],
        ['unlock', 'USER_STATE_ACTIVE'],
      ];
      let sequence = 1;
      for (const [change, state] of steps) {
        const res = await admin().post(`/v2/users/${userId}/${change}`).expect(200);
        sequence++;
        expect(res.body).toEqual({ details: { sequence: String(sequence), changeDate: TIME, resourceOwner: orgA } });
        const read = await admin().get(`/v2/users/${userId}`).expect(200);
        expect(read.body.user.state).toBe(state);
        expect(read.body.details).toEqual({ ...res.body.details, creationDate: TIME });
      }
    });

    it('refuses a change that does not fit the current state (400 FAILED_PRECONDITION)', async () => {
      const { userId } = await createHuman(t, { orgId: orgA });
      expect((await admin().post(`/v2/users/${userId}/reactivate`).expect(400)).body).toEqual(NOT_INACTIVE);
      expect((await admin().post(`/v2/users/${userId}/unlock`).expect(400)).body).toEqual(NOT_LOCKED);

      await admin().post(`/v2/users/${userId}/lock`).expect(200);
      expect((await admin().post(`/v2/users/${userId}/lock`).expect(400)).body).toEqual(ALREADY_LOCKED);
      expect((await admin().post(`/v2/users/${userId}/deactivate`).expect(400)).body).toEqual(NOT_ACTIVE);
      expect((await admin().post(`/v2/users/${userId}/reactivate`).expect(400)).body).toEqual(NOT_INACTIVE);
      await admin().post(`/v2/users/${userId}/unlock`).expect(200);

      await admin().post(`/v2/users/${userId}/deactivate`).expect(200);
      expect((await admin().post(`/v2/users/${userId}/deactivate`).expect(400)).body).toEqual(NOT_ACTIVE);
      expect((await admin().post(`/v2/users/${userId}/lock`).expect(400)).body).toEqual(NOT_ACTIVE);
      expect((await admin().post(`/v2/users/${userId}/unlock`).expect(400)).body).toEqual(NOT_LOCKED);

      // refused changes appended nothing
      const read = await admin().get(`/v2/users/${userId}`).expect(200);
      expect(read.body.details.sequence).toBe('4');
      expect(read.body.user.state).toBe('USER_STATE_INACTIVE');
    });

    it('takes the user from the path, not from the body', async () => {
      const { userId } = await createHuman(t, { orgId: orgA });
      const other = await createHuman(t, { orgId: orgA });
      await admin().post(`/v2/users/${userId}/lock`, { userId: other.userId }).expect(200);
      await admin().post(`/v2/users/${userId}/unlock`, { user_id: other.userId }).expect(200);
      await admin().post(`/v2/users/${userId}/deactivate`, { user_id: other.userId }).expect(200);
      expect(await stateOf(userId)).toBe('USER_STATE_INACTIVE');
      expect(await stateOf(other.userId)).toBe('USER_STATE_ACTIVE');
    });

    it('rejects the own token of a locked or deactivated user (401) until it is active again', async () => {
      const machine = await createMachineWithToken(t, orgA);
      await as(machine.token).get(`/v2/users/${machine.userId}`).expect(200);

      await admin().post(`/v2/users/${machine.userId}/lock`).expect(200);
      expect((await as(machine.token).get(`/v2/users/${machine.userId}`).expect(401)).body).toEqual(UNAUTHENTICATED);
      await admin().post(`/v2/users/${machine.userId}/unlock`).expect(200);
      await as(machine.token).get(`/v2/users/${machine.userId}`).expect(200);

      await admin().post(`/v2/users/${machine.userId}/deactivate`).expect(200);
      expect((await as(machine.token).get(`/v2/users/${machine.userId}`).expect(401)).body).toEqual(UNAUTHENTICATED);
      await admin().post(`/v2/users/${machine.userId}/reactivate`).expect(200);
      await as(machine.token).get(`/v2/users/${machine.userId}`).expect(200);
    });

    it('rejects a locked manager even for what its roles allowed', async () => {
      const manager = await createMachineWithToken(t, orgA, [{ scope: orgA, role: 'ORG_USER_MANAGER' }]);
      const { userId } = await createHuman(t, { orgId: orgA });
      await as(manager.token).post(`/v2/users/${userId}/lock`).expect(200);
      await admin().post(`/v2/users/${manager.userId}/lock`).expect(200);
      expect((await as(manager.token).post(`/v2/users/${userId}/unlock`).expect(401)).body).toEqual(UNAUTHENTICATED);
      expect(await stateOf(userId)).toBe('USER_STATE_LOCKED');
    });

    it.each(['deactivate', 'reactivate', 'lock', 'unlock'])(
      '%s: 401, 400, 404 (also when it may not read the user), 403 in the contract order',
      async (change) => {
        const { userId } = await createHuman(t, { orgId: orgA });
        expect((await t.http().post(`/v2/users/${userId}/${change}`).expect(401)).body).toEqual(NO_TOKEN);
        const tooLong = await as(roleless.token)
          .post(`/v2/users/${'9'.repeat(201)}/${change}`)
          .expect(400);
        expect(tooLong.body).toEqual(validationBody(['userId']));
        expect((await as(roleless.token).post(`/v2/users/404404/${change}`).expect(404)).body).toEqual(USER_NOT_FOUND);
        // a user the caller may not read is answered as an unknown one
        expect((await as(roleless.token).post(`/v2/users/${userId}/${change}`).expect(404)).body).toEqual(
          USER_NOT_FOUND,
        );
        // there is no "self" for state changes (contract §7)
        expect((await as(roleless.token).post(`/v2/users/${roleless.userId}/${change}`).expect(403)).body).toEqual(
          PERMISSION_DENIED,
        );
        expect((await as(viewerA.token).post(`/v2/users/${userId}/${change}`).expect(403)).body).toEqual(
          PERMISSION_DENIED,
        );
        expect((await as(managerB.token).post(`/v2/users/${userId}/${change}`).expect(404)).body).toEqual(
          USER_NOT_FOUND,
        );
        expect(await stateOf(userId)).toBe('USER_STATE_ACTIVE');
      },
    );

    it('lets an ORG_USER_MANAGER change users of its organization', async () => {
      const { userId } = await createHuman(t, { orgId: orgA });
      await as(managerA.token).post(`/v2/users/${userId}/lock`).expect(200);
      await as(managerA.token).post(`/v2/users/${userId}/unlock`).expect(200);
      await as(managerA.token).post(`/v2/users/${userId}/deactivate`).expect(200);
      await as(managerA.token).post(`/v2/users/${userId}/reactivate`).expect(200);
      expect(await stateOf(userId)).toBe('USER_STATE_ACTIVE');
    });
  });

  describe('DeleteUser', () => {
    it('deletes a user: the details of user.removed, then 404 everywhere', async () => {
      const { userId } = await createHuman(t, { orgId: orgA, phone: '+41791234567' });
      const res = await admin().delete(`/v2/users/${userId}`).expect(200);
      expect(res.body).toEqual({ details: { sequence: '4', changeDate: TIME, resourceOwner: orgA } });

      expect((await admin().get(`/v2/users/${userId}`).expect(404)).body).toEqual(USER_NOT_FOUND);
      expect((await admin().delete(`/v2/users/${userId}`).expect(404)).body).toEqual(USER_NOT_FOUND);
      for (const change of ['deactivate', 'reactivate', 'lock', 'unlock']) {
        expect((await admin().post(`/v2/users/${userId}/${change}`).expect(404)).body).toEqual(USER_NOT_FOUND);
      }
      expect((await admin().post(`/v2/users/${userId}/pats`).expect(404)).body).toEqual(USER_NOT_FOUND);
    });

    it("revokes the deleted user's tokens and roles", async () => {
      const manager = await createMachineWithToken(t, orgA, [{ scope: orgA, role: 'ORG_USER_MANAGER' }]);
      const second = await admin().post(`/v2/users/${manager.userId}/pats`).expect(200);
      await admin().delete(`/v2/users/${manager.userId}`).expect(200);
      expect((await as(manager.token).get(`/v2/users/${manager.userId}`).expect(401)).body).toEqual(UNAUTHENTICATED);
      expect((await as(second.body.token).get(`/v2/users/${manager.userId}`).expect(401)).body).toEqual(
        UNAUTHENTICATED,
      );
      const ds = dataSourceOf(t);
      const param = ds.options.type === 'postgres' ? '$1' : '?';
      const left = async (table: string) =>
        Number((await ds.query(`SELECT COUNT(*) AS n FROM ${table} WHERE user_id = ${param}`, [manager.userId]))[0].n);
      expect(await left('personal_access_tokens')).toBe(0);
      expect(await left('memberships')).toBe(0);
    });

    it("frees the deleted user's username for a new user", async () => {
      const email = `reused.${Date.now()}@example.com`;
      const profile = { givenName: 'Minnie', familyName: 'Mouse' };
      const body = {
        organization: { orgId: orgA },
        username: 'reused-name',
        profile,
        email: { email, isVerified: true },
      };
      const first = await admin().post('/v2/users/human').send(body).expect(200);
      expect((await admin().post('/v2/users/human').send(body).expect(409)).body.code).toBe(6);
      await admin().delete(`/v2/users/${first.body.userId}`).expect(200);
      const second = await admin().post('/v2/users/human').send(body).expect(200);
      expect(second.body.userId).not.toBe(first.body.userId);
      expect((await admin().get(`/v2/users/${second.body.userId}`).expect(200)).body.user.username).toBe('reused-name');
    });

    it('lets a user delete itself without any role', async () => {
      const machine = await createMachineWithToken(t, orgA);
      const res = await as(machine.token).delete(`/v2/users/${machine.userId}`).expect(200);
      expect(res.body).toEqual({ details: { sequence: '3', changeDate: TIME, resourceOwner: orgA } });
      await as(machine.token).get(`/v2/users/${machine.userId}`).expect(401);
      await admin().get(`/v2/users/${machine.userId}`).expect(404);
    });

    it('needs user.delete on another user: 401, 400, 404, 403', async () => {
      const { userId } = await createHuman(t, { orgId: orgA });
      expect((await t.http().delete(`/v2/users/${userId}`).expect(401)).body).toEqual(NO_TOKEN);
      expect(
        (
          await as(roleless.token)
            .delete(`/v2/users/${'9'.repeat(201)}`)
            .expect(400)
        ).body,
      ).toEqual(validationBody(['userId']));
      expect((await as(roleless.token).delete('/v2/users/404404').expect(404)).body).toEqual(USER_NOT_FOUND);
      expect((await as(roleless.token).delete(`/v2/users/${userId}`).expect(404)).body).toEqual(USER_NOT_FOUND);
      expect((await as(viewerA.token).delete(`/v2/users/${userId}`).expect(403)).body).toEqual(PERMISSION_DENIED);
      expect((await as(managerB.token).delete(`/v2/users/${userId}`).expect(404)).body).toEqual(USER_NOT_FOUND);
      expect(await stateOf(userId)).toBe('USER_STATE_ACTIVE');
      await as(managerA.token).delete(`/v2/users/${userId}`).expect(200);
    });
  });

  describe('AddPersonalAccessToken', () => {
    it('issues a token of 32 random bytes: {creationDate, tokenId, token}, which authenticates the machine user', async () => {
      const { body } = await admin()
        .post('/v2/users/new', { organizationId: orgA, machine: { name: 'pat' } })
        .expect(200);
      const res = await admin()
        .post(`/v2/users/${body.id}/pats`, { expirationDate: '2099-01-01T00:00:00Z' })
        .expect(200);
      expect(res.body).toEqual({
        creationDate: TIME,
        tokenId: ID,
        token: expect.stringMatching(/^[A-Za-z0-9_-]{43,}$/),
      });
      expect(Buffer.from(res.body.token, 'base64url').length).toBeGreaterThanOrEqual(32);
      const self = await as(res.body.token).get(`/v2/users/${body.id}`).expect(200);
      expect(self.body.details.sequence).toBe('2');
      expect(self.body.details.changeDate).toBe(res.body.creationDate);
    });

    it('stores only the SHA-256 of the token, with its expiry', async () => {
      const machine = await createMachineWithToken(t, orgA);
      const res = await admin()
        .post(`/v2/users/${machine.userId}/pats`, { expiration_date: '2099-06-30T12:00:00.5Z' })
        .expect(200);
      const ds = dataSourceOf(t);
      const param = ds.options.type === 'postgres' ? '$1' : '?';
      const rows = await ds.query(`SELECT * FROM personal_access_tokens WHERE id = ${param}`, [res.body.tokenId]);
      expect(rows).toHaveLength(1);
      expect(rows[0].token_hash).toBe(createHash('sha256').update(res.body.token).digest('hex'));
      expect(Number(rows[0].expires_at)).toBe(Date.parse('2099-06-30T12:00:00.5Z'));
      expect(JSON.stringify(rows)).not.toContain(res.body.token);
      const events = await ds.query(`SELECT payload FROM events WHERE aggregate_id = ${param}`, [machine.userId]);
      expect(JSON.stringify(events)).not.toContain(res.body.token);
    });

    it('stops accepting a token once it expired', async () => {
      const machine = await createMachineWithToken(t, orgA);
      const soon = new Date(t.clock.now().getTime() + 60_000).toISOString();
      const res = await admin().post(`/v2/users/${machine.userId}/pats`, { expirationDate: soon }).expect(200);
      await as(res.body.token).get(`/v2/users/${machine.userId}`).expect(200);
      t.clock.advance(61_000);
      try {
        expect((await as(res.body.token).get(`/v2/users/${machine.userId}`).expect(401)).body).toEqual(UNAUTHENTICATED);
        // the token without expiry still works
        await as(machine.token).get(`/v2/users/${machine.userId}`).expect(200);
      } finally {
        t.clock.advance(-61_000);
      }
    });

    it('refuses an expiration date in the past or not in RFC 3339 (400)', async () => {
      const machine = await createMachineWithToken(t, orgA);
      const past = await admin()
        .post(`/v2/users/${machine.userId}/pats`, { expirationDate: '2020-01-01T00:00:00Z' })
        .expect(400);
      expect(past.body).toEqual(EXPIRATION_IN_PAST);
      const unreadable = await admin()
        .post(`/v2/users/${machine.userId}/pats`, { expirationDate: 'tomorrow' })
        .expect(400);
      expect(unreadable.body).toEqual(validationBody(['expirationDate']));
      expect(violatedFields(unreadable.body)).toEqual(['expirationDate']);
    });

    it('issues tokens for machine users only (400 FAILED_PRECONDITION)', async () => {
      const { userId } = await createHuman(t, { orgId: orgA });
      expect((await admin().post(`/v2/users/${userId}/pats`).expect(400)).body).toEqual(NOT_MACHINE);
    });

    it('needs user.write, even for oneself: 401, 404, 403', async () => {
      const machine = await createMachineWithToken(t, orgA);
      expect((await t.http().post(`/v2/users/${machine.userId}/pats`).send({}).expect(401)).body).toEqual(NO_TOKEN);
      expect((await as(roleless.token).post('/v2/users/404404/pats').expect(404)).body).toEqual(USER_NOT_FOUND);
      expect((await as(roleless.token).post(`/v2/users/${machine.userId}/pats`).expect(404)).body).toEqual(
        USER_NOT_FOUND,
      );
      expect((await as(machine.token).post(`/v2/users/${machine.userId}/pats`).expect(403)).body).toEqual(
        PERMISSION_DENIED,
      );
      expect((await as(viewerA.token).post(`/v2/users/${machine.userId}/pats`).expect(403)).body).toEqual(
        PERMISSION_DENIED,
      );
      expect((await as(managerB.token).post(`/v2/users/${machine.userId}/pats`).expect(404)).body).toEqual(
        USER_NOT_FOUND,
      );
      const issued = await as(managerA.token).post(`/v2/users/${machine.userId}/pats`).expect(200);
      await as(issued.body.token).get(`/v2/users/${machine.userId}`).expect(200);
    });
  });
});
