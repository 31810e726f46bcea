import type { JsonObject } from '@bufbuild/protobuf';
import { createHuman, createMachineWithToken, createOrg } from './support/factories';
import { DATABASES, startApp, TestApp } from './support/test-app';
import { Caller, CallResult, TRANSPORTS, TransportName, transportCaller } from './support/transports';
import { BAD_REQUEST, ERROR_DETAIL, ERROR_INFO, RETRY_INFO, TIME, TIME_PATTERN } from './support/wire';
import { wrongCodeFor } from './support/phone-api';

const CODE_TTL_MS = 10 * 60_000;

/** What REST must answer; gRPC and gRPC-web must answer the same, minus the HTTP status. */
type Expected =
  { httpStatus: 200; response: object } | { httpStatus: number; code: number; id: string; details: object[] };

interface Scenario {
  name: string;
  /** Makes this transport's own fresh user(s) with the factories, then the call under test. */
  run(t: TestApp, c: Caller, orgId: string): Promise<CallResult>;
  expected(orgId: string): Expected;
}

function changed(sequence: string, orgId: string, extra: object = {}): Expected {
  return {
    httpStatus: 200,
    response: { details: { sequence, changeDate: TIME, resourceOwner: orgId }, ...extra },
  };
}

function failure(httpStatus: number, code: number, id: string, text: string, more: object[] = []): Expected {
  return { httpStatus, code, id, details: [{ '@type': ERROR_DETAIL, id, message: text }, ...more] };
}

function invalid(field: string, description: unknown = expect.any(String)): Expected {
  return {
    httpStatus: 400,
    code: 3,
    id: 'VALIDATION-1nv4l',
    details: [
      { '@type': ERROR_DETAIL, id: 'VALIDATION-1nv4l', message: expect.stringMatching(/^invalid request: /) },
      { '@type': BAD_REQUEST, fieldViolations: [{ field, description }] },
    ],
  };
}

const SCENARIOS: Scenario[] = [
  {
    name: 'SetPhone with returnCode',
    async run(t, c, orgId) {
      const { userId } = await createHuman(t, { orgId });
      return c.call('UserService', 'SetPhone', { userId, phone: '+41 79 123 45 67', returnCode: {} }, t.adminToken);
    },
    // user.human.added (1), phone.changed (2), phone.code.added (3)
    expected: (orgId) => changed('3', orgId, { verificationCode: expect.stringMatching(/^\d{6}$/) }),
  },
  {
    name: 'VerifyPhone with a wrong code',
    async run(t, c, orgId) {
      const { userId, phoneCode } = await createHuman(t, { orgId, phone: '+41791234567' });
      return c.call('UserService', 'VerifyPhone', { userId, verificationCode: wrongCodeFor(phoneCode!) }, t.adminToken);
    },
    expected: () =>
      failure(400, 3, 'COMMAND-eis9R', 'Code is invalid, 4 attempts left', [
        { '@type': ERROR_INFO, reason: 'CODE_INVALID', domain: 'phone-verify', metadata: { attemptsRemaining: '4' } },
      ]),
  },
  {
    name: 'VerifyPhone with the right code',
    async run(t, c, orgId) {
      const { userId, phoneCode } = await createHuman(t, { orgId, phone: '+41791234567' });
      return c.call('UserService', 'VerifyPhone', { userId, verificationCode: phoneCode! }, t.adminToken);
    },
    // added, phone.changed, code.added at creation; phone.verified (4)
    expected: (orgId) => changed('4', orgId),
  },
  {
    name: 'VerifyPhone after the code expired',
    async run(t, c, orgId) {
      const { userId, phoneCode } = await createHuman(t, { orgId, phone: '+41791234567' });
      t.clock.advance(CODE_TTL_MS + 1000);
      return c.call('UserService', 'VerifyPhone', { userId, verificationCode: phoneCode! }, t.adminToken);
    },
    expected: () => failure(400, 3, 'CODE-QvUQ4P', 'Code is expired'),
  },
  {
    name: 'VerifyPhone once the attempts are used up (even with the right code)',
    async run(t, c, orgId) {
      const { userId, phoneCode } = await createHuman(t, { orgId, phone: '+41791234567' });
      const wrong = { userId, verificationCode: wrongCodeFor(phoneCode!) };
      for (let attempt = 1; attempt <= 5; attempt++) {
        const result = await c.call('UserService', 'VerifyPhone', wrong, t.adminToken);
        expect(result).toMatchObject({ ok: false, code: 3 });
      }
      return c.call('UserService', 'VerifyPhone', { userId, verificationCode: phoneCode! }, t.adminToken);
    },
    expected: () =>
      failure(429, 8, 'PHONE-attempts', 'Too many attempts, request a new code', [
        {
          '@type': ERROR_INFO,
          reason: 'ATTEMPTS_EXHAUSTED',
          domain: 'phone-verify',
          metadata: { attemptsRemaining: '0' },
        },
      ]),
  },
  {
    name: 'ResendPhoneCode within the SMS cooldown',
    async run(t, c, orgId) {
      const { userId } = await createHuman(t, { orgId });
      const set = await c.call(
        'UserService',
        'SetPhone',
        { userId, phone: '+41791234567', sendCode: {} },
        t.adminToken,
      );
      expect(set).toMatchObject({ ok: true });
      return c.call('UserService', 'ResendPhoneCode', { userId, sendCode: {} }, t.adminToken);
    },
    expected: () =>
      failure(429, 8, 'PHONE-ratelimit', 'Try again later', [
        {
          '@type': ERROR_INFO,
          reason: 'RATE_LIMITED',
          domain: 'phone-verify',
          metadata: { limit: 'sms_resend_cooldown', retryAfterSeconds: '60' },
        },
        // protobuf JSON of google.protobuf.Duration on all three (REST writes it, buf decodes the binary)
        { '@type': RETRY_INFO, retryDelay: '60s' },
      ]),
  },
  {
    name: 'SetPhone for an unknown user',
    async run(t, c) {
      const request = { userId: '999999999999999999', phone: '+41791234567', returnCode: {} };
      return c.call('UserService', 'SetPhone', request, t.adminToken);
    },
    expected: () => failure(404, 5, 'COMMAND-ieJ2e', 'Phone not found'),
  },
  {
    name: 'SetPhone without a token',
    async run(t, c, orgId) {
      const { userId } = await createHuman(t, { orgId });
      return c.call('UserService', 'SetPhone', { userId, phone: '+41791234567', returnCode: {} });
    },
    expected: () => failure(401, 16, 'AUTH-n0t0k', 'Bearer token missing or malformed'),
  },
  {
    // the token is looked up inside the use-case's transaction: a refusal before it still answers 401
    name: 'VerifyPhone with an unknown token and an invalid code',
    async run(t, c, orgId) {
      const { userId } = await createHuman(t, { orgId, phone: '+41791234567' });
      return c.call('UserService', 'VerifyPhone', { userId, verificationCode: '' }, 'unknown-token');
    },
    expected: () => failure(401, 16, 'AUTH-7fs1e', 'Token is invalid'),
  },
  {
    name: 'SetPhone with an unknown token for an unknown user',
    async run(t, c) {
      const request = { userId: '999999999999999999', phone: '+41791234567', returnCode: {} };
      return c.call('UserService', 'SetPhone', request, 'unknown-token');
    },
    expected: () => failure(401, 16, 'AUTH-7fs1e', 'Token is invalid'),
  },
  {
    name: "SetPhone with an ORG_OWNER_VIEWER's token",
    async run(t, c, orgId) {
      const { userId } = await createHuman(t, { orgId });
      const machine = await createMachineWithToken(t, orgId, [{ scope: orgId, role: 'ORG_OWNER_VIEWER' }]);
      return c.call('UserService', 'SetPhone', { userId, phone: '+41791234567', returnCode: {} }, machine.token);
    },
    expected: () => failure(403, 7, 'AUTH-AWfge', 'No matching permissions found'),
  },
  {
    name: 'VerifyPhone with an empty code',
    async run(t, c, orgId) {
      const { userId } = await createHuman(t, { orgId, phone: '+41791234567' });
      return c.call('UserService', 'VerifyPhone', { userId, verificationCode: '' }, t.adminToken);
    },
    expected: () => invalid('verificationCode', 'verificationCode is required'),
  },
  {
    name: 'VerifyPhone without a code',
    async run(t, c, orgId) {
      const { userId } = await createHuman(t, { orgId, phone: '+41791234567' });
      return c.call('UserService', 'VerifyPhone', { userId }, t.adminToken);
    },
    expected: () => invalid('verificationCode', 'verificationCode is required'),
  },
  {
    name: 'VerifyPhone with a 21-character code',
    async run(t, c, orgId) {
      const { userId } = await createHuman(t, { orgId, phone: '+41791234567' });
      return c.call('UserService', 'VerifyPhone', { userId, verificationCode: '1'.repeat(21) }, t.adminToken);
    },
    expected: () => invalid('verificationCode', 'verificationCode must be between 1 and 20 characters long'),
  },
  {
    name: 'SetPhone with isVerified: false',
    async run(t, c, orgId) {
      const { userId } = await createHuman(t, { orgId });
      return c.call('UserService', 'SetPhone', { userId, phone: '+41791234567', isVerified: false }, t.adminToken);
    },
    expected: () => invalid('isVerified'),
  },
];

/** A result with what legitimately differs between transports (times, the random code) reduced to its shape. */
function comparable(result: CallResult): object {
  if (!result.ok) return { code: result.code, message: result.message, details: result.details };
  const { details, verificationCode, ...rest } = result.response as JsonObject & { details?: JsonObject };
  return {
    ...rest,
    details: details && {
      ...details,
      changeDate: TIME_PATTERN.test(String(details.changeDate)) ? '<time>' : details.changeDate,
    },
    ...(verificationCode === undefined ? {} : { verificationCode: `<${String(verificationCode).length} chars>` }),
  };
}

function asResult(expected: Expected): object {
  if (expected.httpStatus === 200) return { ok: true, response: (expected as { response: object }).response };
  const { httpStatus, code, id, details } = expected as Exclude<Expected, { httpStatus: 200 }>;
  return { ok: false, httpStatus, code, message: expect.stringMatching(new RegExp(`\\(${id}\\)$`)), details };
}

describe.each(DATABASES)('parity: REST, gRPC, gRPC-web and Connect (%s)', (db) => {
  let t: TestApp;
  let orgId: string;
  let callers: Record<TransportName, Caller>;

  beforeAll(async () => {
    // the test harness turns the SMS cooldown off; one scenario needs it
    t = await startApp(db, { SMS_RESEND_COOLDOWN: '1m' });
    orgId = await createOrg(t);
    callers = Object.fromEntries(TRANSPORTS.map((name) => [name, transportCaller(t, name)])) as typeof callers;
  }, 60_000);
  afterAll(async () => {
    for (const caller of Object.values(callers ?? {})) caller.close();
    await t?.close();
  }, 60_000);

  it.each(SCENARIOS.map((s) => [s.name, s] as const))('%s', async (_name, scenario) => {
    const results = {} as Record<TransportName, CallResult>;
    for (const transport of TRANSPORTS) results[transport] = await scenario.run(t, callers[transport], orgId);
    const expected = scenario.expected(orgId);

    const { httpStatus: _, ...overGrpc } = asResult(expected) as { httpStatus?: number };
    expect(results).toEqual({ rest: asResult(expected), grpc: overGrpc, 'grpc-web': overGrpc, connect: overGrpc });
    // beyond the expected shape: the very same message, details and response fields on all four
    const others = TRANSPORTS.filter((name) => name !== 'rest');
    expect(Object.fromEntries(others.map((name) => [name, comparable(results[name])]))).toEqual(
      Object.fromEntries(others.map((name) => [name, comparable(results.rest)])),
    );
  });
});
