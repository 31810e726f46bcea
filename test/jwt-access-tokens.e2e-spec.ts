import { exportJWK, generateKeyPair, JWTPayload, SignJWT } from 'jose';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { validateEnvironment } from '../src/app.config';
import { ConfigError } from '../src/common/config/config-error';
import { createRootLogger } from '../src/common/logging/logging';
import { logStartupFailure } from '../src/common/startup/startup-error';
import { createHuman } from './support/factories';
import { bearer, startApp, TestApp } from './support/test-app';
import { UNAUTHENTICATED } from './support/wire';

const ISSUER = 'https://issuer.example.test';
const AUDIENCE = 'phone-verify';

type KeyPair = Awaited<ReturnType<typeof generateKeyPair>>;

/** Issue 26, finding 5: only access tokens issued for this API, with an expiry and a subject, get in. */
describe('JWT access tokens: audience, exp, sub, typ, ID tokens and algorithms', () => {
  let dir: string;
  let t: TestApp;
  let rsa: KeyPair;
  let ec: KeyPair;
  let user: string;

  /** A token signed with `alg` by the trusted key of that kind; `claims` override the valid ones, undefined drops one. */
  async function token(
    claims: Record<string, unknown> = {},
    header: { alg?: string; typ?: string } = {},
    keys: KeyPair = rsa,
  ): Promise<string> {
    const now = Math.floor(t.clock.now().getTime() / 1000);
    const payload: JWTPayload = { iss: ISSUER, aud: AUDIENCE, sub: user, iat: now, exp: now + 300, ...claims };
    for (const key of Object.keys(payload)) if (payload[key] === undefined) delete payload[key];
    const alg = header.alg ?? 'RS256';
    return new SignJWT(payload)
      .setProtectedHeader({ alg, kid: keys === rsa ? 'rsa' : 'ec', ...(header.typ ? { typ: header.typ } : {}) })
      .sign(keys.privateKey);
  }

  const getSelf = (jwt: string) => t.http().get(`/v2/users/${user}`).set(bearer(jwt));

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'pv-jwt-'));
    rsa = await generateKeyPair('RS256', { extractable: true });
    ec = await generateKeyPair('ES256', { extractable: true });
    const keys = [
      { ...(await exportJWK(rsa.publicKey)), kid: 'rsa', use: 'sig' },
      { ...(await exportJWK(ec.publicKey)), kid: 'ec', use: 'sig' },
    ];
    writeFileSync(join(dir, 'jwks.json'), JSON.stringify({ keys }));
    t = await startApp('sqlite', {
      OIDC_ISSUER: ISSUER,
      OIDC_JWKS_FILE: join(dir, 'jwks.json'),
      OIDC_AUDIENCE: AUDIENCE,
    });
    user = (await createHuman(t)).userId;
  }, 60_000);
  afterAll(async () => {
    await t?.close();
    rmSync(dir, { recursive: true, force: true });
  }, 60_000);

  it('accepts an access token with exp and sub, without typ or with typ at+jwt (either spelling), RS256 or ES256', async () => {
    await getSelf(await token()).expect(200);
    await getSelf(await token({}, { typ: 'at+jwt' })).expect(200);
    await getSelf(await token({}, { typ: 'application/at+jwt' })).expect(200);
    await getSelf(await token({}, { alg: 'ES256' }, ec)).expect(200);
  });

  it.each([
    ['no exp', { exp: undefined }],
    ['no sub', { sub: undefined }],
    ['an empty sub', { sub: '' }],
    ['a nonce (an ID token)', { nonce: 'n-0S6_WzA2Mj' }],
    ['an at_hash (an ID token)', { at_hash: '77QmUPtjPfzWtF2AnpK9RQ' }],
    ['an audience of another client of the IdP', { aud: 'another-client' }],
  ])('refuses a token with %s (401)', async (_, claims) => {
    expect((await getSelf(await token(claims)).expect(401)).body).toEqual(UNAUTHENTICATED);
  });

  it.each(['JWT', 'id_token+jwt', 'logout+jwt'])('refuses a token whose typ is %s (401)', async (typ) => {
    expect((await getSelf(await token({}, { typ })).expect(401)).body).toEqual(UNAUTHENTICATED);
  });

  it('refuses HS256 even when its secret is the public key the JWKS publishes (algorithm confusion), 401', async () => {
    const jwk = await exportJWK(rsa.publicKey);
    const secret = new TextEncoder().encode(JSON.stringify(jwk));
    const now = Math.floor(t.clock.now().getTime() / 1000);
    const forged = await new SignJWT({ iss: ISSUER, aud: AUDIENCE, sub: user, exp: now + 300 })
      .setProtectedHeader({ alg: 'HS256', kid: 'rsa' })
      .sign(secret);
    expect((await getSelf(forged).expect(401)).body).toEqual(UNAUTHENTICATED);
  });

  it('follows OIDC_ALGORITHMS and OIDC_TOKEN_TYPES: narrowed to ES256, an RS256 token is refused; JWT accepted when listed', async () => {
    const narrowed = await startApp('sqlite', {
      OIDC_ISSUER: ISSUER,
      OIDC_JWKS_FILE: join(dir, 'jwks.json'),
      OIDC_AUDIENCE: AUDIENCE,
      OIDC_ALGORITHMS: 'ES256',
      OIDC_TOKEN_TYPES: 'at+jwt, JWT',
    });
    try {
      const self = (await createHuman(narrowed)).userId;
      const get = (jwt: string) => narrowed.http().get(`/v2/users/${self}`).set(bearer(jwt));
      await get(await token({ sub: self }, { alg: 'RS256' })).expect(401);
      await get(await token({ sub: self }, { alg: 'ES256' }, ec)).expect(200);
      await get(await token({ sub: self }, { alg: 'ES256', typ: 'JWT' }, ec)).expect(200);
      // still no ID token, whatever typ it has
      await get(await token({ sub: self, nonce: 'n' }, { alg: 'ES256', typ: 'JWT' }, ec)).expect(401);
    } finally {
      await narrowed.close();
    }
  }, 60_000);
});

describe('OIDC settings', () => {
  const problemsOf = (env: Record<string, string>): ConfigError | undefined => {
    try {
      validateEnvironment(env);
      return undefined;
    } catch (error) {
      if (error instanceof ConfigError) return error;
      throw error;
    }
  };

  it('refuses to start when JWTs are accepted without OIDC_AUDIENCE, naming it', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'pv-jwt-'));
    writeFileSync(join(dir, 'jwks.json'), JSON.stringify({ keys: [] }));
    try {
      const start = startApp('sqlite', { OIDC_ISSUER: ISSUER, OIDC_JWKS_FILE: join(dir, 'jwks.json') });
      const error = await start.then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(error).toBeInstanceOf(ConfigError);
      expect((error as ConfigError).settings).toEqual(['OIDC_AUDIENCE']);
      expect((error as ConfigError).message).toContain('OIDC_AUDIENCE: required when OIDC_JWKS_URL or OIDC_JWKS_FILE');
      // what main.ts writes before it exits 1: one fatal JSON line naming the setting
      const lines: string[] = [];
      const out = new Writable({
        write: (chunk: Buffer, _enc, done) => done(void lines.push(...chunk.toString().split('\n').filter(Boolean))),
      });
      logStartupFailure(createRootLogger('info', out), error);
      expect(lines).toHaveLength(1);
      expect(JSON.parse(lines[0])).toMatchObject({ level: 60, settings: ['OIDC_AUDIENCE'] });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 60_000);

  it('requires OIDC_AUDIENCE with OIDC_JWKS_URL too, and nothing when no JWT is accepted', () => {
    expect(problemsOf({ OIDC_ISSUER: ISSUER, OIDC_JWKS_URL: 'https://issuer.example.test/keys' })?.settings).toEqual([
      'OIDC_AUDIENCE',
    ]);
    expect(problemsOf({})).toBeUndefined();
    expect(problemsOf({ OIDC_ISSUER: ISSUER })).toBeUndefined();
  });

  it('refuses an http:// OIDC_JWKS_URL when NODE_ENV=production, and takes https://', () => {
    const production = { NODE_ENV: 'production', CODE_HMAC_KEY: 'k'.repeat(44), SMS_PROVIDER: 'none' };
    const oidc = { OIDC_ISSUER: ISSUER, OIDC_AUDIENCE: AUDIENCE };
    const refused = problemsOf({ ...production, ...oidc, OIDC_JWKS_URL: 'http://issuer.example.test/keys' });
    expect(refused?.problems).toEqual(['OIDC_JWKS_URL: must be https:// when NODE_ENV=production']);
    expect(problemsOf({ ...production, ...oidc, OIDC_JWKS_URL: 'https://issuer.example.test/keys' })).toBeUndefined();
    // elsewhere a local IdP over http stays possible
    expect(problemsOf({ ...oidc, OIDC_JWKS_URL: 'http://127.0.0.1:8081/keys' })).toBeUndefined();
  });

  it('takes OIDC_ALGORITHMS from the asymmetric list only', () => {
    expect(problemsOf({ OIDC_ALGORITHMS: 'RS256, EdDSA' })).toBeUndefined();
    for (const bad of ['HS256', 'none', 'RS256,HS512', '']) {
      expect(problemsOf({ OIDC_ALGORITHMS: bad })?.settings).toEqual(['OIDC_ALGORITHMS']);
    }
  });
});
