import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Response } from 'supertest';
import { DATABASES, grantRoles, TestApp } from './support/test-app';
import { createHuman, createMachineWithToken, createOrg } from './support/factories';
import { eventsOf } from './support/events';
import { jwtIssuer, phoneApi, phoneErrors, startPhoneApp } from './support/phone-api';

const PHONE = '+41791234567';
const NEW_PHONE = '+41787654321';

type CallerName = 'admin' | 'orgManager' | 'otherOrgManager' | 'orgViewer' | 'roleless' | 'self';
type Api = ReturnType<typeof phoneApi>;

interface Operation {
  name: string;
  run: (api: Api, userId: string, code: string) => Promise<Response>;
  /** what a successful call leaves in GetUserByID's human.phone */
  after: object;
  /** contract §7: may a user do this to itself without user.write? */
  self: boolean;
}

/** Contract §7, the phone rows. */
const OPERATIONS: Operation[] = [
  {
    name: 'SetPhone (default)',
    run: (api, id) => api.set(id, { phone: NEW_PHONE }),
    after: { phone: NEW_PHONE },
    self: true,
  },
  {
    name: 'SetPhone sendCode',
    run: (api, id) => api.set(id, { phone: NEW_PHONE, sendCode: {} }),
    after: { phone: NEW_PHONE },
    self: true,
  },
  {
    name: 'SetPhone returnCode',
    run: (api, id) => api.set(id, { phone: NEW_PHONE, returnCode: {} }),
    after: { phone: NEW_PHONE },
    self: false,
  },
  {
    name: 'SetPhone isVerified',
    run: (api, id) => api.set(id, { phone: NEW_PHONE, isVerified: true }),
    after: { phone: NEW_PHONE, isVerified: true },
    self: false,
  },
  { name: 'ResendPhoneCode (default)', run: (api, id) => api.resend(id, {}), after: { phone: PHONE }, self: true },
  {
    name: 'ResendPhoneCode sendCode',
    run: (api, id) => api.resend(id, { sendCode: {} }),
    after: { phone: PHONE },
    self: true,
  },
  {
    name: 'ResendPhoneCode returnCode',
    run: (api, id) => api.resend(id, { returnCode: {} }),
    after: { phone: PHONE },
    self: false,
  },
  {
    name: 'VerifyPhone',
    run: (api, id, code) => api.verify(id, code),
    after: { phone: PHONE, isVerified: true },
    self: true,
  },
  { name: 'RemovePhone', run: (api, id) => api.remove(id), after: {}, self: true },
];

const ALLOWED: Record<CallerName, (op: Operation) => boolean> = {
  admin: () => true,
  orgManager: () => true,
  otherOrgManager: () => false,
  orgViewer: () => false,
  roleless: () => false,
  self: (op) => op.self,
};

/** Callers without user.read on the user's organization are answered as for a missing user (issue 26, finding 8). */
const HIDDEN: Record<CallerName, boolean> = {
  admin: false,
  orgManager: false,
  otherOrgManager: true,
  orgViewer: false,
  roleless: true,
  self: false,
};

const CASES = OPERATIONS.flatMap((op) =>
  (Object.keys(ALLOWED) as CallerName[]).map((caller) => [op.name, caller, ALLOWED[caller](op)] as const),
);

describe.each(DATABASES)('phone permissions (%s)', (db) => {
  let t: TestApp;
  let dir: string;
  let orgId: string;
  let issuer: Awaited<ReturnType<typeof jwtIssuer>>;
  const tokens: Partial<Record<CallerName, { userId: string; token: string }>> = {};

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'pv-jwks-'));
    issuer = await jwtIssuer(dir);
    t = await startPhoneApp(db, issuer.env);
    orgId = await createOrg(t);
    const otherOrgId = await createOrg(t);
    tokens.admin = { userId: '', token: t.adminToken };
    tokens.orgManager = await createMachineWithToken(t, orgId, [{ scope: orgId, role: 'ORG_USER_MANAGER' }]);
    tokens.otherOrgManager = await createMachineWithToken(t, otherOrgId, [
      { scope: otherOrgId, role: 'ORG_USER_MANAGER' },
    ]);
    tokens.orgViewer = await createMachineWithToken(t, orgId, [{ scope: orgId, role: 'ORG_OWNER_VIEWER' }]);
    tokens.roleless = await createMachineWithToken(t, orgId);
  }, 60_000);
  afterAll(async () => {
    await t?.close();
    rmSync(dir, { recursive: true, force: true });
  }, 60_000);

  it.each(CASES)('%s by %s → allowed: %s', async (opName, callerName, allowed) => {
    const op = OPERATIONS.find((o) => o.name === opName)!;
    const { userId, phoneCode } = await createHuman(t, { orgId, phone: PHONE, phoneMode: 'returnCode' });
    const token = callerName === 'self' ? await issuer.sign(userId) : tokens[callerName]!.token;
    const admin = phoneApi(t);
    const before = await eventsOf(t, userId);

    const res = await op.run(phoneApi(t, token), userId, phoneCode!);

    if (allowed) {
      expect(res.status).toBe(200);
      expect(res.body.details.resourceOwner).toBe(orgId);
      // the call's last event (details.sequence) is the caller's
      const events = await eventsOf(t, userId);
      const own = events.find((e) => String(e.sequence) === res.body.details.sequence)!;
      expect(own.sequence).toBeGreaterThan(before.length);
      const creator = callerName === 'self' ? userId : callerName === 'admin' ? undefined : tokens[callerName]!.userId;
      if (creator) expect(own.creator).toBe(creator);
      expect((await admin.get(userId)).body.user.human.phone ?? {}).toEqual(op.after);
    } else {
      (HIDDEN[callerName] ? phoneErrors.notFound : phoneErrors.forbidden)(res);
      expect(await eventsOf(t, userId)).toEqual(before);
      expect((await admin.get(userId)).body.user.human.phone).toEqual({ phone: PHONE });
      // the code still works: a refused call neither used an attempt nor replaced it
      await admin.verify(userId, phoneCode).expect(200);
    }
  });

  it('self may read its own user; a JWT for one user cannot act on another', async () => {
    const a = await createHuman(t, { orgId, phone: PHONE, phoneMode: 'returnCode' });
    const b = await createHuman(t, { orgId, phone: PHONE, phoneMode: 'returnCode' });
    const asA = phoneApi(t, await issuer.sign(a.userId));
    expect((await asA.get(a.userId)).status).toBe(200);
    // a user without roles may not read b: b is missing to it
    phoneErrors.notFound(await asA.verify(b.userId, b.phoneCode));
    phoneErrors.notFound(await asA.set(b.userId, { phone: NEW_PHONE }));
    phoneErrors.notFound(await asA.remove(b.userId));
    await asA.verify(a.userId, a.phoneCode).expect(200);
  });

  it('a user with user.write still may not have its own code returned or skip verification', async () => {
    const self = await createHuman(t, { orgId, phone: PHONE, phoneMode: 'returnCode' });
    await grantRoles(t, self.userId, orgId, ['ORG_USER_MANAGER']);
    const asSelf = phoneApi(t, await issuer.sign(self.userId));
    phoneErrors.forbidden(await asSelf.set(self.userId, { phone: NEW_PHONE, returnCode: {} }));
    phoneErrors.forbidden(await asSelf.set(self.userId, { phone: NEW_PHONE, isVerified: true }));
    phoneErrors.forbidden(await asSelf.resend(self.userId, { returnCode: {} }));
    // the same role works on another user of the organization
    const other = await createHuman(t, { orgId, phone: PHONE, phoneMode: 'returnCode' });
    const res = await asSelf.set(other.userId, { phone: NEW_PHONE, returnCode: {} }).expect(200);
    expect(res.body.verificationCode).toMatch(/^\d{6}$/);
  });

  it('a JWT with another issuer, another audience, or expired → 401', async () => {
    const { userId } = await createHuman(t, { orgId, phone: PHONE, phoneMode: 'returnCode' });
    for (const token of [
      await issuer.sign(userId, { issuer: 'https://evil.example.com' }),
      await issuer.sign(userId, { audience: 'someone-else' }),
      await issuer.sign(userId, { expiresIn: '-1m' }),
      await issuer.sign('69629023906488334'),
    ]) {
      phoneErrors.unauthenticated(await phoneApi(t, token).resend(userId, {}));
    }
  });
});
