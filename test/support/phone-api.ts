import { exportJWK, generateKeyPair, SignJWT } from 'jose';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Response } from 'supertest';
import { PhoneCodeEntity } from '../../src/phone/phone-code.entity';
import { SmsOutboxWorker } from '../../src/phone/outbox/sms-outbox.worker';
import { bearer, dataSourceOf, Db, startApp, TestApp } from './test-app';
import { BAD_REQUEST, ERROR_DETAIL, ERROR_INFO } from './wire';

/** startApp, checking that the app's own log is captured (the redaction tests depend on it). */
export async function startPhoneApp(
  db: Db,
  env: Record<string, string> = {},
  shared?: { dir: string; schema?: string },
): Promise<TestApp> {
  const t = await startApp(db, env, shared);
  await t.http().get('/v2/users/0').set(bearer(t.adminToken)).expect(404);
  expect(t.logs.some((line) => line.includes('"url":"/v2/users/0"'))).toBe(true);
  return t;
}

/** The phone routes of contract §2, called the way a REST client does. */
export function phoneApi(t: TestApp, token: string = t.adminToken) {
  const auth = bearer(token);
  return {
    set: (userId: string, body: object) => t.http().post(`/v2/users/${userId}/phone`).set(auth).send(body),
    resend: (userId: string, body: object = {}) =>
      t.http().post(`/v2/users/${userId}/phone/resend`).set(auth).send(body),
    verify: (userId: string, verificationCode: unknown) =>
      t.http().post(`/v2/users/${userId}/phone/verify`).set(auth).send({ verificationCode }),
    remove: (userId: string) => t.http().delete(`/v2/users/${userId}/phone`).set(auth).send({}),
    get: (userId: string) => t.http().get(`/v2/users/${userId}`).set(auth),
  };
}

/** Asserts the contract's error body exactly: status, gRPC code, "<text> (<ID>)" and the ErrorDetail. */
export function expectError(res: Response, status: number, code: number, id: string, text: string): void {
  expect({ status: res.status, code: res.body.code, message: res.body.message }).toEqual({
    status,
    code,
    message: `${text} (${id})`,
  });
  expect(res.body.details[0]).toEqual({ '@type': ERROR_DETAIL, id, message: text });
}

export function detailOf(res: Response, type: string): Record<string, any> | undefined {
  return (res.body.details as Array<Record<string, any>>).find((d) => d['@type'] === type);
}

/** A validation error: 400 / INVALID_ARGUMENT with one BadRequest field violation per field. */
export function expectValidationError(res: Response, fields: string[]): void {
  expect(res.status).toBe(400);
  expect(res.body.code).toBe(3);
  const detail = res.body.details[0];
  expect(detail['@type']).toBe(ERROR_DETAIL);
  expect(res.body.message).toBe(`${detail.message} (${detail.id})`);
  const violations = detailOf(res, BAD_REQUEST)?.fieldViolations as Array<{ field: string }>;
  expect([...new Set(violations.map((v) => v.field))].sort()).toEqual([...fields].sort());
}

export const phoneErrors = {
  notFound: (res: Response) => expectError(res, 404, 5, 'COMMAND-ieJ2e', 'Phone not found'),
  noPhoneToRemove: (res: Response) => expectError(res, 400, 9, 'COMMAND-ieJ2e', 'Phone not found'),
  notChanged: (res: Response) => expectError(res, 400, 9, 'COMMAND-Uch5e', 'Phone not changed'),
  codeEmpty: (res: Response) => expectError(res, 400, 9, 'PHONE-5xrra88eq8', 'Code is empty'),
  expired: (res: Response) => expectError(res, 400, 3, 'CODE-QvUQ4P', 'Code is expired'),
  noCode: (res: Response) => expectError(res, 400, 9, 'COMMAND-2M9fs', 'Code not found'),
  exhausted: (res: Response) => expectError(res, 429, 8, 'PHONE-attempts', 'Too many attempts, request a new code'),
  rateLimited: (res: Response) => expectError(res, 429, 8, 'PHONE-ratelimit', 'Try again later'),
  forbidden: (res: Response) => expectError(res, 403, 7, 'AUTH-AWfge', 'No matching permissions found'),
  unauthenticated: (res: Response) => {
    expectError(res, 401, 16, 'AUTH-7fs1e', 'Token is invalid');
    expect(res.headers['www-authenticate']).toBe('Bearer');
  },
  noToken: (res: Response) => {
    expectError(res, 401, 16, 'AUTH-n0t0k', 'Bearer token missing or malformed');
    expect(res.headers['www-authenticate']).toBe('Bearer');
  },
  /** Wrong code: the attempts left are in the message and in an ErrorInfo. */
  wrongCode: (res: Response, attemptsLeft: number) => {
    const text =
      attemptsLeft > 0
        ? `Code is invalid, ${attemptsLeft} attempt${attemptsLeft === 1 ? '' : 's'} left`
        : 'Code is invalid, no attempts left: request a new code';
    expectError(res, 400, 3, 'COMMAND-eis9R', text);
    expect(detailOf(res, ERROR_INFO)).toEqual({
      '@type': ERROR_INFO,
      reason: 'CODE_INVALID',
      domain: 'phone-verify',
      metadata: { attemptsRemaining: String(attemptsLeft) },
    });
  },
};

/** A code of the same alphabet and length that is certainly not `code`. */
export function wrongCodeFor(code: string): string {
  const last = code.at(-1)!;
  return code.slice(0, -1) + (last === '0' ? '1' : '0');
}

export async function phoneCodeRow(t: TestApp, userId: string): Promise<PhoneCodeEntity | null> {
  return dataSourceOf(t).getRepository(PhoneCodeEntity).findOne({ where: { userId } });
}

/** Waits until the SMS outbox worker has delivered what the last calls queued. */
export async function outboxIdle(t: TestApp): Promise<void> {
  await t.app.get(SmsOutboxWorker).idle();
}

export const OIDC = { issuer: 'https://issuer.phone-verify.test', audience: 'phone-verify-api' };

/** An RS256 key pair whose public half is written as a JWKS file; `sign(sub)` makes access tokens. */
export async function jwtIssuer(dir: string) {
  const { publicKey, privateKey } = await generateKeyPair('RS256');
  const jwk = { ...(await exportJWK(publicKey)), kid: 'test-key', alg: 'RS256', use: 'sig' };
  const jwksFile = join(dir, `jwks-${Date.now()}.json`);
  writeFileSync(jwksFile, JSON.stringify({ keys: [jwk] }));
  return {
    env: { OIDC_ISSUER: OIDC.issuer, OIDC_JWKS_FILE: jwksFile, OIDC_AUDIENCE: OIDC.audience },
    sign: (sub: string, overrides: { issuer?: string; audience?: string; expiresIn?: string } = {}) =>
      new SignJWT({})
        .setProtectedHeader({ alg: 'RS256', kid: 'test-key' })
        .setSubject(sub)
        .setIssuer(overrides.issuer ?? OIDC.issuer)
        .setAudience(overrides.audience ?? OIDC.audience)
        .setIssuedAt()
        .setExpirationTime(overrides.expiresIn ?? '1h')
        .sign(privateKey),
  };
}
