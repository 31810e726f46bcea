import { createLocalJWKSet, exportJWK, generateKeyPair, JWTPayload, SignJWT } from 'jose';
import {
  ACCESS_TOKEN_ALGORITHMS,
  AccessTokenPolicy,
  AccessTokenRejected,
  normalizedType,
  verifyAccessToken,
} from './access-token-verifier';

const NOW = new Date('2026-12-01T12:00:00Z');
const SECONDS = Math.floor(NOW.getTime() / 1000);

describe(verifyAccessToken.name, () => {
  const policy: AccessTokenPolicy = {
    issuer: 'https://issuer.example.test',
    audience: 'phone-verify',
    algorithms: ACCESS_TOKEN_ALGORITHMS,
    types: ['at+jwt'],
  };
  let sign: (claims: JWTPayload, typ?: string) => Promise<string>;
  let keys: ReturnType<typeof createLocalJWKSet>;

  beforeAll(async () => {
    const pair = await generateKeyPair('EdDSA', { extractable: true });
    keys = createLocalJWKSet({ keys: [{ ...(await exportJWK(pair.publicKey)), kid: 'k' }] });
    sign = (claims, typ) =>
      new SignJWT({ iss: policy.issuer, aud: policy.audience, sub: 'u1', exp: SECONDS + 60, ...claims })
        .setProtectedHeader({ alg: 'EdDSA', kid: 'k', ...(typ ? { typ } : {}) })
        .sign(pair.privateKey);
  });

  it('returns the claims of a valid access token', async () => {
    await expect(verifyAccessToken(await sign({}, 'at+jwt'), keys, policy, NOW)).resolves.toMatchObject({ sub: 'u1' });
  });

  it('never accepts a token on a policy without an audience or an issuer (jose would skip the check)', async () => {
    const token = await sign({ aud: undefined });
    await expect(verifyAccessToken(token, keys, { ...policy, audience: '' }, NOW)).rejects.toThrow(AccessTokenRejected);
    await expect(verifyAccessToken(token, keys, { ...policy, issuer: '' }, NOW)).rejects.toThrow(AccessTokenRejected);
  });

  it.each(['nonce', 'at_hash', 'c_hash', 's_hash'])('refuses a token with %s (an ID token)', async (claim) => {
    await expect(verifyAccessToken(await sign({ [claim]: 'x' }), keys, policy, NOW)).rejects.toThrow('an ID token');
  });

  it('refuses an algorithm outside the policy', async () => {
    await expect(verifyAccessToken(await sign({}), keys, { ...policy, algorithms: ['ES256'] }, NOW)).rejects.toThrow();
  });
});

describe(normalizedType.name, () => {
  it('drops application/ and case (RFC 7515 4.1.9)', () => {
    expect(['at+jwt', 'AT+JWT', 'application/at+jwt', ' Application/AT+JWT '].map(normalizedType)).toEqual(
      Array(4).fill('at+jwt'),
    );
    expect(normalizedType('JWT')).toBe('jwt');
  });
});
