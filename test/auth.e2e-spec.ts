import { exportJWK, generateKeyPair, JWTPayload, SignJWT, UnsecuredJWT } from 'jose';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { createApp } from '../src/app.setup';
import { createHuman, createMachineWithToken, createOrg } from './support/factories';
import { bearer, DATABASES, startApp, TestApp } from './support/test-app';
import { NO_TOKEN, PERMISSION_DENIED, UNAUTHENTICATED, USER_NOT_FOUND } from './support/wire';

const ISSUER = 'https://issuer.example.test';
const AUDIENCE = 'phone-verify';

type PrivateKey = Awaited<ReturnType<typeof generateKeyPair>>['privateKey'];

interface Signer {
  key: PrivateKey;
  kid: string;
}

/** A signed access token; `claims` override the valid defaults (sub is required). */
async function jwt(signer: Signer, claims: JWTPayload & { sub?: string }): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  const payload: JWTPayload = { iss: ISSUER, aud: AUDIENCE, iat: now, exp: now + 300, ...claims };
  return new SignJWT(payload).setProtectedHeader({ alg: 'RS256', kid: signer.kid }).sign(signer.key);
}

describe.each(DATABASES)('AuthGuard and TokenService (%s)', (db) => {
  let dir: string;
  let t: TestApp;
  let orgA: string;
  let trusted: Signer;
  let jwksServer: Server;
  let jwksUrl: string;
  let jwks: object;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'pv-jwks-'));
    const pair = await generateKeyPair('RS256', { extractable: true });
    trusted = { key: pair.privateKey, kid: 'trusted-1' };
    jwks = { keys: [{ ...(await exportJWK(pair.publicKey)), kid: trusted.kid, alg: 'RS256', use: 'sig' }] };
    writeFileSync(join(dir, 'jwks.json'), JSON.stringify(jwks));
    jwksServer = createServer((_, res) =>
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(jwks)),
    );
    await new Promise<void>((resolve) => jwksServer.listen(0, '127.0.0.1', resolve));
    jwksUrl = `http://127.0.0.1:${(jwksServer.address() as { port: number }).port}/jwks.json`;

    t = await startApp(db, { OIDC_ISSUER: ISSUER, OIDC_JWKS_FILE: join(dir, 'jwks.json'), OIDC_AUDIENCE: AUDIENCE });
    orgA = await createOrg(t);
  }, 60_000);
  afterAll(async () => {
    await t?.close();
    await new Promise((resolve) => jwksServer.close(resolve));
    rmSync(dir, { recursive: true, force: true });
  }, 60_000);

  const getUser = (token: string, userId: string) => t.http().get(`/v2/users/${userId}`).set(bearer(token));

  describe('personal access tokens', () => {
    it('accepts "Bearer <token>" case-insensitively, with surrounding spaces', async () => {
      const machine = await createMachineWithToken(t, orgA);
      for (const header of [`Bearer ${machine.token}`, `bearer ${machine.token}`, `BEARER   ${machine.token}  `]) {
        await t.http().get(`/v2/users/${machine.userId}`).set('Authorization', header).expect(200);
      }
    });

    it('answers 401 with WWW-Authenticate: "missing or malformed" without a bearer token, "invalid" for an unknown one', async () => {
      const { userId } = await createMachineWithToken(t, orgA);
      const cases: Array<[string | undefined, object]> = [
        [undefined, NO_TOKEN],
        ['', NO_TOKEN],
        ['Bearer', NO_TOKEN],
        ['Bearer    ', NO_TOKEN],
        [`Basic ${Buffer.from('admin:admin').toString('base64')}`, NO_TOKEN],
        [`Bearer ${t.adminToken}x`, UNAUTHENTICATED],
        [`Bearer ${t.adminToken.slice(0, -1)}`, UNAUTHENTICATED],
        ['Bearer a.b.c', UNAUTHENTICATED],
        ['Bearer two words', NO_TOKEN],
      ];
      for (const [header, body] of cases) {
        const req = t.http().get(`/v2/users/${userId}`);
        if (header !== undefined) req.set('Authorization', header);
        const res = await req.expect(401);
        expect({ header, body: res.body }).toEqual({ header, body });
        expect(res.headers['www-authenticate']).toBe('Bearer');
      }
    });

    it('checks the token before the request: 401 even when the request is invalid too', async () => {
      const res = await t
        .http()
        .get(`/v2/users/${'1'.repeat(201)}`)
        .set(bearer('unknown'))
        .expect(401);
      expect(res.body).toEqual(UNAUTHENTICATED);
      const noBody = await t.http().post('/v2/users/new').send({}).expect(401);
      expect(noBody.body).toEqual(NO_TOKEN);
    });

    it('leaves /healthz public and everything else denied by default', async () => {
      expect((await t.http().get('/healthz').expect(200)).body).toMatchObject({ status: 'SERVING' });
      await t.http().get('/v2/users/1').expect(401);
    });
  });

  describe('JWT access tokens', () => {
    let human: string;
    let other: string;
    beforeAll(async () => {
      human = (await createHuman(t, { orgId: orgA })).userId;
      other = (await createHuman(t, { orgId: orgA })).userId;
    });

    it('lets a human user act on itself with a token whose sub is its id', async () => {
      const token = await jwt(trusted, { sub: human });
      const res = await getUser(token, human).expect(200);
      expect(res.body.user.userId).toBe(human);
    });

    it('gives a JWT caller no more than its roles: 404 on another user, and no state changes on itself', async () => {
      const token = await jwt(trusted, { sub: human });
      expect((await getUser(token, other).expect(404)).body).toEqual(USER_NOT_FOUND);
      const lock = await t.http().post(`/v2/users/${human}/lock`).set(bearer(token)).send({}).expect(403);
      expect(lock.body).toEqual(PERMISSION_DENIED);
    });

    it('applies the roles of the user behind the JWT', async () => {
      const manager = await createMachineWithToken(t, orgA, [{ scope: orgA, role: 'ORG_OWNER_VIEWER' }]);
      const token = await jwt(trusted, { sub: manager.userId });
      await getUser(token, other).expect(200);
    });

    it.each([
      ['a wrong issuer', { iss: 'https://evil.example.test' }],
      ['no issuer', { iss: undefined }],
      ['a wrong audience', { aud: 'someone-else' }],
      ['no audience', { aud: undefined }],
      ['an expiry in the past', { exp: Math.floor(Date.now() / 1000) - 60 }],
      ['a not-before in the future', { nbf: Math.floor(Date.now() / 1000) + 600 }],
      ['no subject', { sub: undefined }],
      ['an unknown subject', { sub: '404404' }],
    ])('rejects a token with %s (401)', async (_, claims) => {
      const token = await jwt(trusted, { sub: human, ...claims });
      const res = await getUser(token, human).expect(401);
      expect(res.body).toEqual(UNAUTHENTICATED);
    });

    it('rejects a token signed with another key, under the trusted kid or another one (401)', async () => {
      const { privateKey } = await generateKeyPair('RS256');
      for (const kid of [trusted.kid, 'unknown-kid']) {
        const token = await jwt({ key: privateKey, kid }, { sub: human });
        expect((await getUser(token, human).expect(401)).body).toEqual(UNAUTHENTICATED);
      }
    });

    it('rejects a tampered token and an unsigned one (401)', async () => {
      const [header, , signature] = (await jwt(trusted, { sub: human })).split('.');
      const forged = Buffer.from(JSON.stringify({ iss: ISSUER, aud: AUDIENCE, sub: other, exp: 9_999_999_999 }));
      await getUser(`${header}.${forged.toString('base64url')}.${signature}`, other).expect(401);
      const unsigned = new UnsecuredJWT({ sub: human }).setIssuer(ISSUER).setAudience(AUDIENCE).encode();
      await getUser(unsigned, human).expect(401);
    });

    it("follows the service's clock for expiry", async () => {
      const token = await jwt(trusted, { sub: human, exp: Math.floor(Date.now() / 1000) + 120 });
      await getUser(token, human).expect(200);
      t.clock.advance(10 * 60_000);
      try {
        expect((await getUser(token, human).expect(401)).body).toEqual(UNAUTHENTICATED);
      } finally {
        t.clock.advance(-10 * 60_000);
      }
    });

    it('rejects the JWT of a locked, deactivated or deleted user (401)', async () => {
      const { userId } = await createHuman(t, { orgId: orgA });
      const token = await jwt(trusted, { sub: userId });
      const asAdmin = (path: string) => t.http().post(path).set(bearer(t.adminToken)).send({}).expect(200);
      await asAdmin(`/v2/users/${userId}/lock`);
      expect((await getUser(token, userId).expect(401)).body).toEqual(UNAUTHENTICATED);
      await asAdmin(`/v2/users/${userId}/unlock`);
      await asAdmin(`/v2/users/${userId}/deactivate`);
      expect((await getUser(token, userId).expect(401)).body).toEqual(UNAUTHENTICATED);
      await asAdmin(`/v2/users/${userId}/reactivate`);
      await getUser(token, userId).expect(200);

      // a human may delete itself; its token is dead afterwards
      await t.http().delete(`/v2/users/${userId}`).set(bearer(token)).expect(200);
      expect((await getUser(token, userId).expect(401)).body).toEqual(UNAUTHENTICATED);
    });

    it('fetches the keys from OIDC_JWKS_URL as well', async () => {
      const byUrl = await startApp(db, { OIDC_ISSUER: ISSUER, OIDC_JWKS_URL: jwksUrl, OIDC_AUDIENCE: AUDIENCE });
      try {
        const { userId } = await createHuman(byUrl);
        await getUserOn(byUrl, await jwt(trusted, { sub: userId }), userId).expect(200);
        await getUserOn(byUrl, await jwt(trusted, { sub: userId, aud: 'other' }), userId).expect(401);
      } finally {
        await byUrl.close();
      }
    }, 60_000);
  });

  it('never logs a token, an Authorization header or a code', async () => {
    const machine = await createMachineWithToken(t, orgA);
    const token = await jwt(trusted, { sub: machine.userId });
    await getUser(machine.token, machine.userId).set('x-request-id', 'log-check').expect(200);
    await getUser(token, machine.userId).expect(200);
    const { phoneCode } = await createHuman(t, { orgId: orgA, phone: '+41791234567' });
    const log = t.logs.join('\n');
    expect(log).not.toContain(`"${phoneCode}"`);
    expect(log).toContain('"id":"log-check"');
    for (const secret of [t.adminToken, machine.token, token, token.split('.')[2]]) {
      expect(log).not.toContain(secret);
    }
    expect(log.toLowerCase()).not.toContain('authorization');
  });
});

function getUserOn(app: TestApp, token: string, userId: string) {
  return app.http().get(`/v2/users/${userId}`).set(bearer(token));
}

describe('TokenService configuration', () => {
  it('refuses to start with a JWKS but no OIDC_ISSUER, naming the variable', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'pv-jwks-'));
    writeFileSync(join(dir, 'jwks.json'), JSON.stringify({ keys: [] }));
    // built by hand rather than with startApp, so that the half-started app can be closed
    const app = await createApp({
      env: {
        NODE_ENV: 'test',
        SMS_PROVIDER: 'none',
        HOST: '127.0.0.1',
        DATABASE_URL: join(dir, 'db.sqlite'),
        FIRST_INSTANCE_PAT_PATH: join(dir, 'admin.pat'),
        CODE_HMAC_KEY_FILE: join(dir, 'code-hmac.key'),
        OIDC_JWKS_FILE: join(dir, 'jwks.json'),
        OIDC_AUDIENCE: AUDIENCE,
      },
      logStream: new Writable({ write: (_chunk, _enc, done) => done() }),
    });
    try {
      await expect(app.init()).rejects.toThrow('OIDC_ISSUER: required when OIDC_JWKS_URL or OIDC_JWKS_FILE is set');
    } finally {
      await app.close();
      rmSync(dir, { recursive: true, force: true });
    }
  }, 60_000);

  it.each(DATABASES)(
    'does not accept JWTs when no issuer is configured (%s)',
    async (db) => {
      const app = await startApp(db);
      try {
        const { privateKey } = await generateKeyPair('RS256');
        const { userId } = await createHuman(app);
        const token = await jwt({ key: privateKey, kid: 'k' }, { sub: userId });
        expect((await getUserOn(app, token, userId).expect(401)).body).toEqual(UNAUTHENTICATED);
      } finally {
        await app.close();
      }
    },
    60_000,
  );
});
