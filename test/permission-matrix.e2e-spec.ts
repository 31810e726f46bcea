import fc from 'fast-check';
import type { JsonObject } from '@bufbuild/protobuf';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { INSTANCE, Permission } from '../src/common/auth/caller';
import { Database } from '../src/database/sql';
import { OrganizationsService } from '../src/users/organizations.service';
import { eventsOf } from './support/events';
import { createOrg } from './support/factories';
import { jwtIssuer } from './support/phone-api';
import { bearer, dataSourceOf, Db, grantRoles, startApp, TestApp } from './support/test-app';
import {
  CallResult,
  ServiceName,
  serviceSchema,
  TRANSPORTS,
  TransportName,
  transportCaller,
} from './support/transports';

/**
 * Issue 26's permission matrix: every use-case of UserService and OrganizationService, on every
 * transport, by every kind of caller, on every kind of target, sampled (fast-check, fixed seed)
 * from the product of ONE table of who may do what. Each sampled call is checked against the
 * table: allowed, or refused with the table's code and nothing changed.
 */

type RoleName = 'IAM_OWNER' | 'ORG_OWNER' | 'ORG_USER_MANAGER' | 'ORG_OWNER_VIEWER' | 'self' | 'none';
/** The caller lives in organization A (its roles are on A; IAM_OWNER's instance-wide). */
const ROLE_NAMES: RoleName[] = ['IAM_OWNER', 'ORG_OWNER', 'ORG_USER_MANAGER', 'ORG_OWNER_VIEWER', 'self', 'none'];
/**
 * sameOrg: a user of A (or A itself); otherOrg: a user of B (or B); grantsElsewhere: a user of A
 * that owns organization C; itself: the caller (for creations, no organization named: the caller's).
 */
type TargetName = 'sameOrg' | 'otherOrg' | 'grantsElsewhere' | 'itself';

const PERMISSIONS: Record<RoleName, readonly Permission[]> = {
  IAM_OWNER: ['user.read', 'user.write', 'user.delete', 'org.create', 'user.id.choose'],
  ORG_OWNER: ['user.read', 'user.write', 'user.delete'],
  ORG_USER_MANAGER: ['user.read', 'user.write', 'user.delete'],
  ORG_OWNER_VIEWER: ['user.read'],
  self: [],
  none: [],
};

const NEW_PHONE = '+41787654321';

interface UseCase {
  service: ServiceName;
  method: string;
  /** the permission it needs on the target's organization */
  needs: Permission;
  targets: TargetName[];
  /** user: acts on an existing user of this type; org: creates in an organization; instance: neither */
  on: { user: 'human' | 'machine' } | 'org' | 'instance';
  /** allowed on oneself without `needs` */
  self?: boolean;
  /** refused on oneself even with `needs` (a code is never returned to its own user) */
  neverSelf?: boolean;
  /** refused for a user holding a role the caller does not (finding 1) */
  actsFor?: boolean;
  /** a caller that may not read the target is answered as for an unknown one (finding 8) */
  hides?: boolean;
  /** the state the target user must be in */
  from?: 'lock' | 'deactivate';
  request: (target: Target) => JsonObject;
}

interface Target {
  userId: string;
  orgId?: string;
  code?: string;
}

const USER_TARGETS: TargetName[] = ['sameOrg', 'otherOrg', 'grantsElsewhere', 'itself'];
const user = (type: 'human' | 'machine' = 'human') => ({ user: type });
const byId = (t: Target) => ({ userId: t.userId });
let counter = 0;
const unique = () => `${Date.now().toString(36)}${(counter++).toString(36)}`;

/** THE table. */
// prettier-ignore
const USE_CASES: UseCase[] = [
  { service: 'UserService', method: 'GetUserByID', needs: 'user.read', targets: USER_TARGETS, on: user(), self: true, hides: true, request: byId },
  { service: 'UserService', method: 'DeactivateUser', needs: 'user.write', targets: USER_TARGETS, on: user(), actsFor: true, hides: true, request: byId },
  // a deactivated or locked user cannot call: no "itself"
  { service: 'UserService', method: 'ReactivateUser', needs: 'user.write', targets: ['sameOrg', 'otherOrg', 'grantsElsewhere'], on: user(), actsFor: true, hides: true, from: 'deactivate', request: byId },
  { service: 'UserService', method: 'LockUser', needs: 'user.write', targets: USER_TARGETS, on: user(), actsFor: true, hides: true, request: byId },
  { service: 'UserService', method: 'UnlockUser', needs: 'user.write', targets: ['sameOrg', 'otherOrg', 'grantsElsewhere'], on: user(), actsFor: true, hides: true, from: 'lock', request: byId },
  { service: 'UserService', method: 'DeleteUser', needs: 'user.delete', targets: USER_TARGETS, on: user(), self: true, actsFor: true, hides: true, request: byId },
  { service: 'UserService', method: 'AddPersonalAccessToken', needs: 'user.write', targets: USER_TARGETS, on: user('machine'), actsFor: true, hides: true, request: byId },
  { service: 'UserService', method: 'SetPhone', needs: 'user.write', targets: USER_TARGETS, on: user(), neverSelf: true, hides: true, request: (t) => ({ userId: t.userId, phone: NEW_PHONE, returnCode: {} }) },
  { service: 'UserService', method: 'ResendPhoneCode', needs: 'user.write', targets: USER_TARGETS, on: user(), neverSelf: true, hides: true, request: (t) => ({ userId: t.userId, returnCode: {} }) },
  { service: 'UserService', method: 'VerifyPhone', needs: 'user.write', targets: USER_TARGETS, on: user(), self: true, hides: true, request: (t) => ({ userId: t.userId, verificationCode: t.code! }) },
  { service: 'UserService', method: 'RemovePhone', needs: 'user.write', targets: USER_TARGETS, on: user(), self: true, hides: true, request: byId },
  {
    service: 'UserService', method: 'AddHumanUser', needs: 'user.write', targets: ['sameOrg', 'otherOrg', 'itself'], on: 'org', hides: true,
    request: (t) => ({ ...(t.orgId ? { organization: { orgId: t.orgId } } : {}), profile: { givenName: 'M', familyName: 'X' }, email: { email: `${unique()}@example.com` } }),
  },
  {
    service: 'UserService', method: 'CreateUser', needs: 'user.write', targets: ['sameOrg', 'otherOrg'], on: 'org', hides: true,
    request: (t) => ({ organizationId: t.orgId!, username: `m-${unique()}`, machine: { name: 'robot' } }),
  },
  { service: 'OrganizationService', method: 'AddOrganization', needs: 'org.create', targets: ['itself'], on: 'instance', request: () => ({ name: `Org ${unique()}` }) },
];

type Expected = { allowed: true } | { allowed: false; code: 5 | 7 };

/** What the table says of one call. */
function expected(useCase: UseCase, role: RoleName, target: TargetName): Expected {
  const targetOrg = target === 'otherOrg' ? 'B' : 'A';
  const has = (permission: Permission) =>
    role === 'IAM_OWNER' || (targetOrg === 'A' && PERMISSIONS[role].includes(permission));
  const deny = (): Expected => {
    const own = target === 'itself' || (useCase.on === 'org' && targetOrg === 'A');
    return { allowed: false, code: useCase.hides && !own && !has('user.read') ? 5 : 7 };
  };
  if (target === 'itself' && useCase.neverSelf) return { allowed: false, code: 7 };
  if (!(target === 'itself' && useCase.self) && !has(useCase.needs)) return deny();
  if (useCase.actsFor && target === 'grantsElsewhere' && role !== 'IAM_OWNER') return { allowed: false, code: 7 };
  return { allowed: true };
}

const CASES = USE_CASES.flatMap((useCase) =>
  ROLE_NAMES.flatMap((role) => useCase.targets.map((target) => ({ useCase, role, target }))),
);

/** Runs per database: on SQLite, nine in ten of the use-case × role × target cases come up (seeded: always the same ones). */
const RUNS: Record<Db, number> = { sqlite: 900, postgres: 120 };

describe.each<Db>(['sqlite', 'postgres'])('permission matrix (%s)', (db) => {
  let t: TestApp;
  let dir: string;
  let jwt: Awaited<ReturnType<typeof jwtIssuer>>;
  const orgs: Record<'A' | 'B' | 'C', string> = { A: '', B: '', C: '' };
  let callers: Partial<Record<TransportName, ReturnType<typeof transportCaller>>> = {};

  const rest = () => ({
    post: (path: string, body: object = {}) => t.http().post(path).set(bearer(t.adminToken)).send(body),
  });

  /** A user made by the IAM_OWNER of first start; a human with a phone and a pending code. */
  async function newUser(type: 'human' | 'machine', orgId: string): Promise<Target> {
    if (type === 'machine') {
      const res = await rest()
        .post('/v2/users/new', { organizationId: orgId, username: `m-${unique()}`, machine: { name: 'robot' } })
        .expect(200);
      return { userId: res.body.id };
    }
    const res = await rest()
      .post('/v2/users/human', {
        organization: { orgId },
        profile: { givenName: 'Minnie', familyName: 'Mouse' },
        email: { email: `${unique()}@example.com`, isVerified: true },
        phone: { phone: '+41791234567', returnCode: {} },
      })
      .expect(200);
    return { userId: res.body.userId, code: res.body.phoneCode };
  }

  /** A caller of organization A with `role`, as a machine (personal access token) or a human (JWT). */
  async function newCaller(role: RoleName, type: 'human' | 'machine'): Promise<Target & { token: string }> {
    const caller = await newUser(type, orgs.A);
    if (role === 'IAM_OWNER') {
      await t.app
        .get(Database)
        .transaction((tx) => t.app.get(OrganizationsService).grantRoles(tx, caller.userId, INSTANCE, ['IAM_OWNER']));
    } else if (role !== 'self' && role !== 'none') {
      await grantRoles(t, caller.userId, orgs.A, [role]);
    }
    const token =
      type === 'machine'
        ? (await rest().post(`/v2/users/${caller.userId}/pats`).expect(200)).body.token
        : await jwt.sign(caller.userId);
    return { ...caller, token };
  }

  const count = async (table: string) =>
    Number((await dataSourceOf(t).query(`SELECT COUNT(*) AS n FROM ${table}`))[0].n);

  /** What a refused call must leave as it was. */
  async function snapshot(userId?: string) {
    const p = db === 'postgres' ? '$1' : '?';
    const rows = (sql: string) => (userId ? dataSourceOf(t).query(sql, [userId]) : Promise.resolve([]));
    return {
      users: await count('users'),
      organizations: await count('organizations'),
      memberships: await count('memberships'),
      tokens: await count('personal_access_tokens'),
      events: userId ? await eventsOf(t, userId) : [],
      user: await rows(`SELECT * FROM users WHERE id = ${p}`),
      codes: await rows(`SELECT * FROM phone_codes WHERE user_id = ${p}`),
    };
  }

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'pv-matrix-'));
    jwt = await jwtIssuer(dir);
    t = await startApp(db, jwt.env);
    orgs.A = await createOrg(t);
    orgs.B = await createOrg(t);
    orgs.C = await createOrg(t);
    callers = Object.fromEntries(TRANSPORTS.map((transport) => [transport, transportCaller(t, transport)]));
  }, 60_000);
  afterAll(async () => {
    for (const caller of Object.values(callers)) caller?.close();
    await t?.close();
    rmSync(dir, { recursive: true, force: true });
  }, 60_000);

  it('the table has every method of both services (as proto/ declares them), once', () => {
    const declared = (['UserService', 'OrganizationService'] as const).flatMap((service) =>
      serviceSchema(service).methods.map((m) => `${service}.${m.name}`),
    );
    expect(USE_CASES.map((u) => `${u.service}.${u.method}`).sort()).toEqual(declared.sort());
  });

  it('every call is allowed or refused as the table says, and a refused call changes nothing', async () => {
    const seen = new Set<string>();
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom(...TRANSPORTS),
        fc.constantFrom(...CASES),
        async (transport, { useCase, role, target }) => {
          seen.add(`${useCase.method}/${role}/${target}`);
          const callerType =
            target === 'itself' && typeof useCase.on === 'object'
              ? useCase.on.user
              : role === 'self'
                ? 'human'
                : 'machine';
          const caller = await newCaller(role, callerType);
          let subject: Target;
          if (typeof useCase.on === 'object') {
            subject =
              target === 'itself' ? caller : await newUser(useCase.on.user, target === 'otherOrg' ? orgs.B : orgs.A);
            if (target === 'grantsElsewhere') await grantRoles(t, subject.userId, orgs.C, ['ORG_OWNER']);
            if (useCase.from) await rest().post(`/v2/users/${subject.userId}/${useCase.from}`).expect(200);
          } else {
            subject = { userId: '', orgId: target === 'itself' ? undefined : target === 'otherOrg' ? orgs.B : orgs.A };
          }
          const touched = typeof useCase.on === 'object' ? subject.userId : undefined;
          const before = await snapshot(touched);

          const result: CallResult = await callers[transport]!.call(
            useCase.service,
            useCase.method,
            useCase.request(subject),
            caller.token,
          );

          const want = expected(useCase, role, target);
          const label = `${useCase.method} by ${role} on ${target} over ${transport}`;
          if (want.allowed) {
            expect({ label, ok: result.ok, error: result.ok ? undefined : result.message }).toEqual({
              label,
              ok: true,
              error: undefined,
            });
          } else {
            expect({ label, code: result.ok ? 0 : result.code }).toEqual({ label, code: want.code });
            expect(await snapshot(touched)).toEqual(before);
          }
        },
      ),
      { seed: 26, numRuns: RUNS[db], endOnFailure: true },
    );
    if (db === 'sqlite') expect(seen.size).toBeGreaterThan(CASES.length * 0.9);
  }, 120_000);
});
