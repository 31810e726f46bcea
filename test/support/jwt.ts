import { exportJWK, generateKeyPair, JWTPayload, SignJWT } from 'jose';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';

export const JWT_ISSUER = 'https://issuer.phone-verify.test';
export const JWT_AUDIENCE = 'phone-verify-api';

/**
 * A JWKS file in `dir` (the app's OIDC_* settings in `env`) and a signer of access tokens with any
 * claims; `exp` is an hour after `now` unless the claims set it. `foreign` signs with a key the
 * JWKS does not hold.
 */
export async function jwtSigner(dir: string, now: () => Date = () => new Date()) {
  const trusted = await generateKeyPair('RS256');
  const foreign = await generateKeyPair('RS256');
  const jwks = join(dir, `jwks-${Date.now()}.json`);
  writeFileSync(jwks, JSON.stringify({ keys: [{ ...(await exportJWK(trusted.publicKey)), kid: 'k', alg: 'RS256' }] }));
  const sign = (key: CryptoKey, sub: string, claims: JWTPayload) => {
    const seconds = Math.floor(now().getTime() / 1000);
    return new SignJWT({ exp: seconds + 3600, ...claims })
      .setProtectedHeader({ alg: 'RS256', kid: 'k' })
      .setSubject(sub)
      .setIssuer(JWT_ISSUER)
      .setAudience(JWT_AUDIENCE)
      .setIssuedAt(seconds)
      .sign(key);
  };
  return {
    env: { OIDC_ISSUER: JWT_ISSUER, OIDC_JWKS_FILE: jwks, OIDC_AUDIENCE: JWT_AUDIENCE },
    sign: (sub: string, claims: JWTPayload = {}) => sign(trusted.privateKey, sub, claims),
    foreign: (sub: string, claims: JWTPayload = {}) => sign(foreign.privateKey, sub, claims),
  };
}
