import { randomInt } from 'node:crypto';
import { Role } from '../../src/common/auth/caller';
import { bearer, grantRoles, TestApp } from './test-app';

let counter = 0;
const unique = () => `${Date.now().toString(36)}${(counter++).toString(36)}`;

/** A valid Swiss mobile number, random so that per-number limits of one run do not meet. */
export const randomMobile = () => `+4179${String(randomInt(10_000_000)).padStart(7, '0')}`;

export async function createOrg(t: TestApp, name = `Org ${unique()}`): Promise<string> {
  const res = await t.http().post('/v2/organizations').set(bearer(t.adminToken)).send({ name }).expect(200);
  return res.body.organizationId as string;
}

export interface HumanOptions {
  orgId?: string;
  phone?: string;
  phoneMode?: 'returnCode' | 'isVerified' | 'sendCode';
  email?: string;
  preferredLanguage?: string;
}

/** A human user through the API; returns its id and, with phoneMode returnCode, the code. */
export async function createHuman(
  t: TestApp,
  options: HumanOptions = {},
): Promise<{ userId: string; phoneCode?: string }> {
  const body: Record<string, unknown> = {
    profile: { givenName: 'Minnie', familyName: 'Mouse', preferredLanguage: options.preferredLanguage },
    email: { email: options.email ?? `minnie.${unique()}@example.com`, isVerified: true },
  };
  if (options.orgId) body.organization = { orgId: options.orgId };
  if (options.phone) {
    const mode = options.phoneMode ?? 'returnCode';
    body.phone = { phone: options.phone, [mode]: mode === 'isVerified' ? true : {} };
  }
  const res = await t.http().post('/v2/users/human').set(bearer(t.adminToken)).send(body).expect(200);
  return { userId: res.body.userId, phoneCode: res.body.phoneCode };
}

/** A machine user with a personal access token and the given roles (scope: an org id or 'instance'). */
export async function createMachineWithToken(
  t: TestApp,
  orgId: string,
  grants: Array<{ scope: string; role: Role }> = [],
): Promise<{ userId: string; token: string }> {
  const created = await t
    .http()
    .post('/v2/users/new')
    .set(bearer(t.adminToken))
    .send({ organizationId: orgId, username: `machine-${unique()}`, machine: { name: 'robot' } })
    .expect(200);
  const userId = created.body.id as string;
  const pat = await t.http().post(`/v2/users/${userId}/pats`).set(bearer(t.adminToken)).send({}).expect(200);
  for (const grant of grants) await grantRoles(t, userId, grant.scope, [grant.role]);
  return { userId, token: pat.body.token as string };
}
