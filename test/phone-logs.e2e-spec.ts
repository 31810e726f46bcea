import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { bearer, DATABASES, TestApp } from './support/test-app';
import { createHuman, createOrg } from './support/factories';
import { jwtIssuer, phoneApi, phoneErrors, startPhoneApp, wrongCodeFor } from './support/phone-api';

/** Security bar: codes and tokens never appear in a log line, whatever the log level. */
describe.each(DATABASES)('phone log redaction (%s)', (db) => {
  let t: TestApp;
  let dir: string;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'pv-logs-'));
    const issuer = await jwtIssuer(dir);
    t = await startPhoneApp(db, { ...issuer.env, LOG_LEVEL: 'trace' });
    (t as TestApp & { issuer: typeof issuer }).issuer = issuer;
  }, 60_000);
  afterAll(async () => {
    await t?.close();
    rmSync(dir, { recursive: true, force: true });
  }, 60_000);

  it('a whole flow leaves none of its codes or tokens in the logs', async () => {
    const issuer = (t as TestApp & { issuer: Awaited<ReturnType<typeof jwtIssuer>> }).issuer;
    const codes: string[] = [];
    const tokens: string[] = [t.adminToken];
    const api = phoneApi(t);
    const orgId = await createOrg(t);

    // a user created with returnCode
    const created = await createHuman(t, { orgId, phone: '+41791234567', phoneMode: 'returnCode' });
    const userId = created.userId;
    codes.push(created.phoneCode!);
    // SetPhone and ResendPhoneCode with returnCode
    const set = await api.set(userId, { phone: '+41787654321', returnCode: {} }).expect(200);
    codes.push(set.body.verificationCode);
    const resent = await api.resend(userId, { returnCode: {} }).expect(200);
    const code = resent.body.verificationCode as string;
    codes.push(code);
    // a wrong code (in the body and in a query string), then the right one
    phoneErrors.wrongCode(await api.verify(userId, wrongCodeFor(code)), 4);
    codes.push(wrongCodeFor(code));
    await t
      .http()
      .post(`/v2/users/${userId}/phone/verify?verificationCode=${wrongCodeFor(code)}`)
      .set(bearer(t.adminToken))
      .send({ verification_code: wrongCodeFor(code) })
      .expect(400);
    await api.verify(userId, code).expect(200);

    // the user itself, with a JWT: a new number by SMS, then a resend
    const jwt = await issuer.sign(userId);
    tokens.push(jwt);
    const self = phoneApi(t, jwt);
    await self.set(userId, { phone: '+41791234568' }).expect(200);
    await self.resend(userId, {}).expect(200);
    await self.get(userId).expect(200);
    // a JWT that is rejected, and a PAT that does not exist
    const forged = await issuer.sign(userId, { audience: 'someone-else' });
    tokens.push(forged);
    phoneErrors.unauthenticated(await phoneApi(t, forged).get(userId));
    tokens.push('pv_unknown_token_abcdefghijklmnopqrstuvwxyz012345');
    phoneErrors.unauthenticated(await phoneApi(t, tokens.at(-1)!).get(userId));

    // personal access tokens: created, then used
    const machine = await t
      .http()
      .post('/v2/users/new')
      .set(bearer(t.adminToken))
      .send({ organizationId: orgId, username: 'log-robot', machine: { name: 'robot' } })
      .expect(200);
    for (let i = 0; i < 2; i++) {
      const pat = await t.http().post(`/v2/users/${machine.body.id}/pats`).set(bearer(t.adminToken)).send({});
      expect(pat.status).toBe(200);
      tokens.push(pat.body.token);
      // a roleless machine may not read the user: it is missing to it
      phoneErrors.notFound(await phoneApi(t, pat.body.token).verify(userId, code));
    }

    const secrets = [...codes, ...tokens, ...tokens.filter((tk) => tk.includes('.')).map((tk) => tk.split('.')[2])];
    expect(codes.every((c) => /^\d{6}$/.test(c))).toBe(true);
    expect(new Set(secrets).size).toBe(secrets.length);
    // the logs were captured: one line per request at least
    const requests = t.logs.map((line) => JSON.parse(line)).filter((entry) => entry.req?.url);
    expect(requests.length).toBeGreaterThanOrEqual(18);
    expect(t.logs.some((line) => line.includes('/phone/verify'))).toBe(true);
    for (const secret of secrets) {
      const leaks = t.logs.filter((line) => line.includes(secret));
      expect({ secret, leaks }).toEqual({ secret, leaks: [] });
    }
  });
});
