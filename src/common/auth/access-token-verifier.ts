import { JWTPayload, JWTVerifyGetKey, jwtVerify } from 'jose';

/** Asymmetric JWS algorithms only: an HMAC key would be the IdP's secret, and `none` is no signature. */
export const ACCESS_TOKEN_ALGORITHMS = [
  'RS256',
  'RS384',
  'RS512',
  'PS256',
  'PS384',
  'PS512',
  'ES256',
  'ES384',
  'ES512',
  'EdDSA',
] as const;

/** RFC 9068's media type of a JWT access token, as `typ` carries it (the `application/` prefix may be left out). */
export const ACCESS_TOKEN_TYPE = 'at+jwt';

/** Claims only an OpenID Connect ID token has: such a token names the user to a client, it grants nothing here. */
const ID_TOKEN_CLAIMS = ['nonce', 'at_hash', 'c_hash', 's_hash'] as const;

export interface AccessTokenPolicy {
  issuer: string;
  /** a token's `aud` must contain it */
  audience: string;
  algorithms: readonly string[];
  /** accepted `typ` header values, lower case, without `application/`; a token without `typ` passes this check */
  types: readonly string[];
}

/** Why a token was refused: logged at debug level, never answered (every refusal is the same 401). */
export class AccessTokenRejected extends Error {
  override readonly name = 'AccessTokenRejected';
}

/**
 * The checks a JWT passes before its `sub` names a caller (RFC 9068, RFC 8725): a signature by a
 * key of the issuer's JWKS with an allowed algorithm; `iss`, an `aud` of ours, `exp` (in the
 * future, by the service's clock), `nbf` when present, and a `sub`; an access token's `typ`
 * where the token has one; and none of the claims that make it an ID token.
 */
export async function verifyAccessToken(
  token: string,
  keys: JWTVerifyGetKey,
  policy: AccessTokenPolicy,
  now: Date,
): Promise<JWTPayload & { sub: string }> {
  // jose skips an empty audience or issuer: never accept a token on a policy without them
  if (!policy.audience || !policy.issuer) throw new AccessTokenRejected('no OIDC_AUDIENCE or OIDC_ISSUER');
  const { payload, protectedHeader } = await jwtVerify(token, keys, {
    issuer: policy.issuer,
    audience: policy.audience,
    algorithms: [...policy.algorithms],
    requiredClaims: ['exp', 'sub'],
    currentDate: now,
  });
  if (protectedHeader.typ !== undefined && !policy.types.includes(normalizedType(protectedHeader.typ))) {
    throw new AccessTokenRejected(`typ "${protectedHeader.typ}" is not an access token's`);
  }
  const idTokenClaim = ID_TOKEN_CLAIMS.find((claim) => claim in payload);
  if (idTokenClaim) throw new AccessTokenRejected(`an ID token (it has ${idTokenClaim})`);
  if (typeof payload.sub !== 'string' || payload.sub === '') throw new AccessTokenRejected('sub is not a string');
  return payload as JWTPayload & { sub: string };
}

/** `application/at+jwt` and `AT+JWT` are `at+jwt` (RFC 7515 §4.1.9: the prefix may be omitted, case does not matter). */
export function normalizedType(typ: string): string {
  const lower = typ.trim().toLowerCase();
  return lower.startsWith('application/') ? lower.slice('application/'.length) : lower;
}
