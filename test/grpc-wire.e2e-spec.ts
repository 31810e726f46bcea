import { create, fromBinary, fromJson, toBinary, toJson } from '@bufbuild/protobuf';
import type { JsonObject, JsonValue } from '@bufbuild/protobuf';
import { FileDescriptorProtoSchema } from '@bufbuild/protobuf/wkt';
import { ConnectError, createClient } from '@connectrpc/connect';
import { Client, credentials, loadPackageDefinition, Metadata, ServiceError } from '@grpc/grpc-js';
import { loadSync } from '@grpc/proto-loader';
import { dirname, join } from 'node:path';
import { grpcOptions, PACKAGE_DEFINITION } from '../src/common/grpc/grpc-options';
import { decodeStatusDetails } from '../src/common/grpc/status-details';
import { createHuman, createMachineWithToken, createOrg } from './support/factories';
import { bearer, DATABASES, startApp, TestApp } from './support/test-app';
import {
  CallResult,
  closeGrpcClients,
  connectErrorResult,
  grpcAddress,
  grpcClients,
  GrpcClients,
  grpcErrorResult,
  grpcUnary,
  grpcWebTransport,
  httpPort,
  messageSchema,
  protoRegistry,
  requestBytes,
  rfc3339ToTimestamp,
  serviceSchema,
  statusJson,
  TRANSPORTS,
  TransportName,
  transportCaller,
} from './support/transports';
import {
  ERROR_DETAIL,
  ERROR_INFO,
  GRPC_WEB,
  NO_TOKEN as NO_TOKEN_BODY,
  TIME_PATTERN,
  UNAUTHENTICATED as UNAUTHENTICATED_BODY,
} from './support/wire';

/** An UNAUTHENTICATED answer as a gRPC client reports it. */
const UNAUTHENTICATED = { ok: false, ...UNAUTHENTICATED_BODY };
const NO_TOKEN = { ok: false, ...NO_TOKEN_BODY };

async function grpcError(promise: Promise<unknown>): Promise<CallResult> {
  try {
    await promise;
  } catch (error) {
    return grpcErrorResult(error as ServiceError);
  }
  throw new Error('the call succeeded');
}

// ---- raw gRPC-web --------------------------------------------------------------------------------

function frame(flags: number, payload: Uint8Array): Buffer {
  const header = Buffer.alloc(5);
  header[0] = flags;
  header.writeUInt32BE(payload.length, 1);
  return Buffer.concat([header, payload]);
}

interface GrpcWebAnswer {
  httpStatus: number;
  headers: Headers;
  messages: Buffer[];
  /** trailer frame fields, or for trailers-only answers the grpc-* headers */
  trailers: Record<string, string>;
}

/** A hand-made gRPC-web call with fetch, its answer unframed. */
async function rawGrpcWeb(
  t: TestApp,
  path: string,
  init: { method?: string; contentType?: string; body?: Uint8Array | string; headers?: Record<string, string> },
): Promise<GrpcWebAnswer> {
  const res = await fetch(`http://127.0.0.1:${httpPort(t)}${path}`, {
    method: init.method ?? 'POST',
    headers: { ...(init.contentType ? { 'content-type': init.contentType } : {}), ...init.headers },
    body: typeof init.body === 'string' || init.body === undefined ? init.body : Buffer.from(init.body),
  });
  let body = Buffer.from(await res.arrayBuffer());
  if (/grpc-web-text/.test(res.headers.get('content-type') ?? ''))
    body = Buffer.from(body.toString('latin1'), 'base64');
  const messages: Buffer[] = [];
  const trailers: Record<string, string> = {};
  for (const key of ['grpc-status', 'grpc-message']) {
    const value = res.headers.get(key);
    if (value !== null) trailers[key] = value;
  }
  let offset = 0;
  while (offset + 5 <= body.length) {
    const flags = body[offset];
    const end = offset + 5 + body.readUInt32BE(offset + 1);
    const payload = body.subarray(offset + 5, end);
    if (flags & 0x80) {
      for (const line of payload.toString('utf8').split('\r\n').filter(Boolean)) {
        const colon = line.indexOf(':');
        trailers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
      }
    } else messages.push(payload);
    offset = end;
  }
  expect(offset).toBe(body.length);
  return { httpStatus: res.status, headers: res.headers, messages, trailers };
}

describe.each(DATABASES)('gRPC and gRPC-web on the wire (%s)', (db) => {
  let t: TestApp;
  let orgId: string;
  let grpc: GrpcClients;

  beforeAll(async () => {
    t = await startApp(db);
    orgId = await createOrg(t);
    grpc = grpcClients(t);
  }, 60_000);
  afterAll(async () => {
    if (grpc) closeGrpcClients(grpc);
    await t?.close();
  }, 60_000);

  describe('uint64 and Timestamp', () => {
    it('GetUserByID over gRPC carries details.sequence as the exact decimal string and proper Timestamps', async () => {
      const { userId } = await createHuman(t, { orgId, phone: '+41791234567' });
      const rest = (await t.http().get(`/v2/users/${userId}`).set(bearer(t.adminToken)).expect(200)).body;
      const overGrpc = await grpcUnary(grpc, 'UserService', 'GetUserByID', { userId }, t.adminToken);

      // added, phone.changed, phone.code.added
      expect(rest.details.sequence).toBe('3');
      expect(overGrpc.details).toEqual({
        sequence: '3',
        changeDate: rfc3339ToTimestamp(rest.details.changeDate),
        creationDate: rfc3339ToTimestamp(rest.details.creationDate),
        resourceOwner: orgId,
      });
      expect(overGrpc.details.changeDate).toEqual({
        seconds: expect.stringMatching(/^\d+$/),
        nanos: expect.any(Number),
      });
      expect(Number(overGrpc.details.changeDate.seconds) * 1000 + overGrpc.details.changeDate.nanos / 1e6).toBe(
        Date.parse(rest.details.changeDate),
      );
    });

    it('gRPC-web decodes sequence as a uint64 and the dates as google.protobuf.Timestamp', async () => {
      const { userId } = await createHuman(t, { orgId, phone: '+41791234567' });
      const rest = (await t.http().get(`/v2/users/${userId}`).set(bearer(t.adminToken)).expect(200)).body;
      const client = createClient(serviceSchema('UserService'), grpcWebTransport(t)) as any;
      const res = await client.getUserByID({ userId }, { headers: { authorization: `Bearer ${t.adminToken}` } });
      expect(res.details.sequence).toBe(3n);
      expect(res.details.changeDate.$typeName).toBe('google.protobuf.Timestamp');
      expect({ seconds: res.details.changeDate.seconds.toString(), nanos: res.details.changeDate.nanos }).toEqual(
        rfc3339ToTimestamp(rest.details.changeDate),
      );
    });

    it('the loader options keep a uint64 beyond 2^53 exact on the server side', () => {
      const method = (PACKAGE_DEFINITION['zitadel.user.v2.UserService'] as any).GetUserByID;
      const bytes = method.responseSerialize({ details: { sequence: '18446744073709551615' } });
      const schema = messageSchema('zitadel.user.v2.GetUserByIDResponse');
      expect(toJson(schema, fromBinary(schema, bytes))).toEqual({ details: { sequence: '18446744073709551615' } });
      const back = method.responseDeserialize(Buffer.from(bytes));
      expect(back.details.sequence).toBe('18446744073709551615');
    });

    it('AddPersonalAccessToken over gRPC takes expiration_date as a Timestamp and honours it', async () => {
      const machine = await grpcUnary(
        grpc,
        'UserService',
        'CreateUser',
        { organizationId: orgId, username: `robot-${db}-${Date.now()}`, machine: { name: 'robot' } },
        t.adminToken,
      );
      const expiresAt = Math.floor(t.clock.now().getTime() / 1000) + 3600;
      const pat = await grpcUnary(
        grpc,
        'UserService',
        'AddPersonalAccessToken',
        { userId: machine.id, expirationDate: { seconds: String(expiresAt), nanos: 500_000_000 } },
        t.adminToken,
      );
      expect(pat).toEqual({
        creationDate: { seconds: expect.stringMatching(/^\d+$/), nanos: expect.any(Number) },
        tokenId: expect.stringMatching(/^\d+$/),
        token: expect.any(String),
      });
      expect(Math.abs(Number(pat.creationDate.seconds) - t.clock.now().getTime() / 1000)).toBeLessThan(60);

      const self = await grpcUnary(grpc, 'UserService', 'GetUserByID', { userId: machine.id }, pat.token);
      expect(self.user.userId).toBe(machine.id);
      t.clock.advance(3601_000);
      await expect(
        grpcError(grpcUnary(grpc, 'UserService', 'GetUserByID', { userId: machine.id }, pat.token)),
      ).resolves.toEqual(UNAUTHENTICATED);
    });

    it('an expiration_date in the past is INVALID_ARGUMENT COMMAND-dv3t5 over gRPC too', async () => {
      const { userId } = await createMachineWithToken(t, orgId);
      const past = { seconds: String(Math.floor(t.clock.now().getTime() / 1000) - 60), nanos: 0 };
      const result = await grpcError(
        grpcUnary(grpc, 'UserService', 'AddPersonalAccessToken', { userId, expirationDate: past }, t.adminToken),
      );
      expect(result).toMatchObject({
        ok: false,
        code: 3,
        message: 'Expiration date must be in the future (COMMAND-dv3t5)',
      });
    });
  });

  describe('authentication over gRPC', () => {
    it('a call without a token is UNAUTHENTICATED with AUTH-n0t0k in grpc-status-details-bin', async () => {
      const { userId } = await createHuman(t, { orgId });
      let error: ServiceError | undefined;
      await grpcUnary(grpc, 'UserService', 'GetUserByID', { userId }).catch((e: ServiceError) => (error = e));
      expect(error?.code).toBe(16);
      expect(error?.details).toBe('Bearer token missing or malformed (AUTH-n0t0k)');
      // the server's own decoder and buf's agree on the bytes
      const bin = error!.metadata.get('grpc-status-details-bin')[0] as Buffer;
      expect(decodeStatusDetails(bin)).toEqual({ ...NO_TOKEN, code: 16, ok: undefined });
      expect(statusJson(bin)).toEqual({ code: 16, message: NO_TOKEN.message, details: NO_TOKEN.details });
    });

    it('an empty token is a missing one; an unknown token is UNAUTHENTICATED AUTH-7fs1e', async () => {
      const { userId } = await createHuman(t, { orgId });
      await expect(grpcError(grpcUnary(grpc, 'UserService', 'GetUserByID', { userId }, ''))).resolves.toEqual(NO_TOKEN);
      for (const token of ['not-a-token', `${t.adminToken}x`]) {
        await expect(grpcError(grpcUnary(grpc, 'UserService', 'GetUserByID', { userId }, token))).resolves.toEqual(
          UNAUTHENTICATED,
        );
      }
    });
  });

  describe('SetPhone oneof over gRPC and gRPC-web', () => {
    const overBoth = ['grpc', 'grpc-web'] as TransportName[];

    it.each(overBoth)('return_code returns the code; send_code and is_verified do not (%s)', async (transport) => {
      const c = transportCaller(t, transport);
      try {
        const outcomes: Record<string, unknown> = {};
        for (const verification of ['returnCode', 'sendCode', 'isVerified', 'none']) {
          const { userId } = await createHuman(t, { orgId });
          const oneof = {
            returnCode: { returnCode: {} },
            sendCode: { sendCode: {} },
            isVerified: { isVerified: true },
          };
          const extra = oneof[verification as keyof typeof oneof] ?? {};
          const set = await c.call(
            'UserService',
            'SetPhone',
            { userId, phone: '+41791234567', ...extra },
            t.adminToken,
          );
          const user = await c.call('UserService', 'GetUserByID', { userId }, t.adminToken);
          if (!set.ok || !user.ok) throw new Error(JSON.stringify({ set, user }));
          outcomes[verification] = {
            verificationCode: set.response.verificationCode,
            phone: (user.response.user as any).human.phone,
          };
        }
        expect(outcomes).toEqual({
          returnCode: { verificationCode: expect.stringMatching(/^\d{6}$/), phone: { phone: '+41791234567' } },
          sendCode: { verificationCode: undefined, phone: { phone: '+41791234567' } },
          isVerified: { verificationCode: undefined, phone: { phone: '+41791234567', isVerified: true } },
          none: { verificationCode: undefined, phone: { phone: '+41791234567' } },
        });
      } finally {
        c.close();
      }
    });
  });

  describe('every method of the contract, on all three transports', () => {
    /** Runs each method once with success and returns the responses, IDs and times reduced to placeholders. */
    async function everyMethod(transport: TransportName) {
      const c = transportCaller(t, transport);
      const names = new Map<string, string>();
      const tag = `${transport.replace('-', '')}${Date.now().toString(36)}`;
      const ok = async (service: 'UserService' | 'OrganizationService', method: string, request: JsonObject) => {
        const result = await c.call(service, method, request, t.adminToken);
        if (!result.ok) throw new Error(`${transport} ${method}: ${JSON.stringify(result)}`);
        return result.response as any;
      };
      const name = (value: string, placeholder: string) => names.set(value, placeholder);
      try {
        const responses: Record<string, any> = {};
        responses.AddOrganization = await ok('OrganizationService', 'AddOrganization', { name: `Org ${tag}` });
        const org = responses.AddOrganization.organizationId;
        name(org, '<org>');
        const profile = { givenName: 'Minnie', familyName: 'Mouse' };
        responses.AddHumanUser = await ok('UserService', 'AddHumanUser', {
          organization: { orgId: org },
          profile,
          email: { email: `minnie@${tag}.example.com`, isVerified: true },
          phone: { phone: '+41791234567', returnCode: {} },
        });
        name(responses.AddHumanUser.userId, '<human>');
        responses.CreateUserHuman = await ok('UserService', 'CreateUser', {
          organizationId: org,
          human: { profile, email: { email: `daisy@${tag}.example.com`, isVerified: true } },
        });
        const human = responses.CreateUserHuman.id;
        name(human, '<human2>');
        responses.CreateUserMachine = await ok('UserService', 'CreateUser', {
          organizationId: org,
          username: `robot-${tag}`,
          machine: { name: 'robot', description: 'does things' },
        });
        const machine = responses.CreateUserMachine.id;
        name(machine, '<machine>');
        responses.GetUserByID = await ok('UserService', 'GetUserByID', { userId: responses.AddHumanUser.userId });
        responses.GetUserByIDMachine = await ok('UserService', 'GetUserByID', { userId: machine });
        responses.SetPhone = await ok('UserService', 'SetPhone', {
          userId: human,
          phone: '+41 79 765 43 21',
          returnCode: {},
        });
        responses.ResendPhoneCode = await ok('UserService', 'ResendPhoneCode', { userId: human, returnCode: {} });
        const code = responses.ResendPhoneCode.verificationCode;
        responses.VerifyPhone = await ok('UserService', 'VerifyPhone', { userId: human, verificationCode: code });
        responses.RemovePhone = await ok('UserService', 'RemovePhone', { userId: human });
        for (const method of ['DeactivateUser', 'ReactivateUser', 'LockUser', 'UnlockUser']) {
          responses[method] = await ok('UserService', method, { userId: human });
        }
        responses.AddPersonalAccessToken = await ok('UserService', 'AddPersonalAccessToken', {
          userId: machine,
          expirationDate: '2099-01-01T00:00:00Z',
        });
        name(responses.AddPersonalAccessToken.tokenId, '<tokenId>');
        name(responses.AddPersonalAccessToken.token, '<token>');
        responses.DeleteUser = await ok('UserService', 'DeleteUser', { userId: human });
        const placeholders = (value: unknown): unknown => {
          if (Array.isArray(value)) return value.map(placeholders);
          if (value && typeof value === 'object') {
            return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, placeholders(v)]));
          }
          if (typeof value !== 'string') return value;
          if (names.has(value)) return names.get(value);
          if (TIME_PATTERN.test(value)) return '<time>';
          if (/^\d{6}$/.test(value)) return '<code>';
          return value.split(tag).join('<tag>');
        };
        return placeholders(responses) as Record<string, any>;
      } finally {
        c.close();
      }
    }

    it('each succeeds over gRPC and gRPC-web with the same result as over REST', async () => {
      const results = {} as Record<TransportName, Record<string, any>>;
      for (const transport of TRANSPORTS) results[transport] = await everyMethod(transport);
      const details = (sequence: string, owner = '<org>') => ({ sequence, changeDate: '<time>', resourceOwner: owner });
      expect(results.rest).toEqual({
        AddOrganization: { details: details('1'), organizationId: '<org>' },
        AddHumanUser: { userId: '<human>', details: details('3'), phoneCode: '<code>' },
        CreateUserHuman: { id: '<human2>', creationDate: '<time>' },
        CreateUserMachine: { id: '<machine>', creationDate: '<time>' },
        GetUserByID: {
          details: { ...details('3'), creationDate: '<time>' },
          user: {
            userId: '<human>',
            details: { ...details('3'), creationDate: '<time>' },
            state: 'USER_STATE_ACTIVE',
            username: 'minnie@<tag>.example.com',
            loginNames: ['minnie@<tag>.example.com@org-<tag>.localhost'],
            preferredLoginName: 'minnie@<tag>.example.com@org-<tag>.localhost',
            human: {
              profile: { givenName: 'Minnie', familyName: 'Mouse', displayName: 'Minnie Mouse' },
              email: { email: 'minnie@<tag>.example.com', isVerified: true },
              phone: { phone: '+41791234567' },
            },
          },
        },
        GetUserByIDMachine: {
          details: { ...details('1'), creationDate: '<time>' },
          user: {
            userId: '<machine>',
            details: { ...details('1'), creationDate: '<time>' },
            state: 'USER_STATE_ACTIVE',
            username: 'robot-<tag>',
            loginNames: ['robot-<tag>@org-<tag>.localhost'],
            preferredLoginName: 'robot-<tag>@org-<tag>.localhost',
            machine: { name: 'robot', description: 'does things' },
          },
        },
        SetPhone: { details: details('3'), verificationCode: '<code>' },
        ResendPhoneCode: { details: details('4'), verificationCode: '<code>' },
        VerifyPhone: { details: details('5') },
        RemovePhone: { details: details('6') },
        DeactivateUser: { details: details('7') },
        ReactivateUser: { details: details('8') },
        LockUser: { details: details('9') },
        UnlockUser: { details: details('10') },
        AddPersonalAccessToken: { creationDate: '<time>', tokenId: '<tokenId>', token: '<token>' },
        DeleteUser: { details: details('11') },
      });
      expect({ grpc: results.grpc, 'grpc-web': results['grpc-web'] }).toEqual({
        grpc: results.rest,
        'grpc-web': results.rest,
      });
    });
  });

  describe('malformed gRPC-web calls', () => {
    const path = '/zitadel.user.v2.UserService/GetUserByID';
    let valid: Uint8Array;
    beforeAll(async () => {
      const { userId } = await createHuman(t, { orgId });
      valid = requestBytes('UserService', 'GetUserByID', { userId });
    });

    const cases: Array<[string, () => Parameters<typeof rawGrpcWeb>[2], number]> = [
      ['a truncated frame header', () => ({ contentType: GRPC_WEB, body: Buffer.from([0, 0, 0]) }), 3],
      ['a length longer than the body', () => ({ contentType: GRPC_WEB, body: frame(0, valid).subarray(0, 9) }), 3],
      ['an empty body', () => ({ contentType: GRPC_WEB, body: Buffer.alloc(0) }), 3],
      ['invalid protobuf', () => ({ contentType: GRPC_WEB, body: frame(0, Buffer.from([0x0a, 0xff, 0xff])) }), 3],
      ['two messages', () => ({ contentType: GRPC_WEB, body: Buffer.concat([frame(0, valid), frame(0, valid)]) }), 3],
      ['a compressed frame', () => ({ contentType: GRPC_WEB, body: frame(1, valid) }), 3],
      ['unknown frame flags', () => ({ contentType: GRPC_WEB, body: frame(0x02, valid) }), 3],
      ['invalid base64 in grpc-web-text', () => ({ contentType: 'application/grpc-web-text', body: '!!!!' }), 3],
      ['GET', () => ({ method: 'GET', contentType: GRPC_WEB }), 12],
      ['a body over REQUEST_BODY_LIMIT', () => ({ contentType: GRPC_WEB, body: frame(0, Buffer.alloc(70_000)) }), 8],
    ];

    it.each(cases)('%s → a clean non-OK status, and the next call works', async (_name, init, code) => {
      const answer = await rawGrpcWeb(t, path, { ...init(), headers: { authorization: `Bearer ${t.adminToken}` } });
      expect(answer.httpStatus === 200 || (answer.httpStatus >= 400 && answer.httpStatus < 500)).toBe(true);
      expect(answer.messages).toEqual([]);
      expect(answer.trailers['grpc-status']).toBe(String(code));
      expect(answer.trailers['grpc-message']).toEqual(expect.any(String));

      const next = await rawGrpcWeb(t, path, {
        contentType: GRPC_WEB,
        body: frame(0, valid),
        headers: { authorization: `Bearer ${t.adminToken}` },
      });
      expect(next.trailers['grpc-status']).toBe('0');
      expect(next.messages).toHaveLength(1);
    });

    it.each([
      ['a wrong content type', 'text/plain'],
      ['no content type', undefined],
    ])('%s on an RPC path → 415 naming the content types spoken, and the next call works', async (_name, type) => {
      const res = await fetch(`http://127.0.0.1:${httpPort(t)}${path}`, {
        method: 'POST',
        headers: { ...(type ? { 'content-type': type } : {}), authorization: `Bearer ${t.adminToken}` },
        body: Buffer.from(frame(0, valid)),
      });
      expect(res.status).toBe(415);
      expect(res.headers.get('accept-post')).toBe(
        'application/json, application/proto, application/grpc-web+proto, application/grpc-web-text+proto',
      );
      expect(await res.json()).toMatchObject({
        code: 'invalid_argument',
        message: expect.stringContaining('content-type'),
      });
      const next = await rawGrpcWeb(t, path, {
        contentType: GRPC_WEB,
        body: frame(0, valid),
        headers: { authorization: `Bearer ${t.adminToken}` },
      });
      expect(next.trailers['grpc-status']).toBe('0');
    });

    it.each([
      ['0S', '4'],
      ['1n', '4'],
      ['30S', '0'],
      ['garbage', '3'],
    ])(
      'grpc-timeout %s is the deadline of the forwarded call, an unreadable one INVALID_ARGUMENT (grpc-status %s)',
      async (timeout, code) => {
        const answer = await rawGrpcWeb(t, path, {
          contentType: GRPC_WEB,
          body: frame(0, valid),
          headers: { authorization: `Bearer ${t.adminToken}`, 'grpc-timeout': timeout },
        });
        expect(answer.trailers['grpc-status']).toBe(code);
      },
    );

    it('an unknown method is UNIMPLEMENTED', async () => {
      const answer = await rawGrpcWeb(t, '/zitadel.user.v2.UserService/NoSuchMethod', {
        contentType: GRPC_WEB,
        body: frame(0, valid),
      });
      expect(answer.trailers['grpc-status']).toBe('12');
    });
  });

  describe('gRPC-web details and text mode', () => {
    it('errors carry grpc-status, grpc-message and grpc-status-details-bin in the trailer frame', async () => {
      const { userId, phoneCode } = await createHuman(t, { orgId, phone: '+41791234567' });
      const body = requestBytes('UserService', 'VerifyPhone', {
        userId,
        verificationCode: phoneCode === '000000' ? '111111' : '000000',
      });
      const answer = await rawGrpcWeb(t, '/zitadel.user.v2.UserService/VerifyPhone', {
        contentType: GRPC_WEB,
        body: frame(0, body),
        headers: { authorization: `Bearer ${t.adminToken}` },
      });
      expect(answer.httpStatus).toBe(200);
      expect(answer.headers.get('content-type')).toBe(GRPC_WEB);
      expect(answer.trailers['grpc-status']).toBe('3');
      expect(answer.trailers['grpc-message']).toBe('Code is invalid, 4 attempts left (COMMAND-eis9R)');
      const status = statusJson(Buffer.from(answer.trailers['grpc-status-details-bin'], 'base64'));
      expect(status.details.map((d) => d['@type'])).toEqual([ERROR_DETAIL, ERROR_INFO]);
    });

    it('a non-ASCII grpc-message is percent-encoded, and connect-es decodes it to the text of the details', async () => {
      const health = protoRegistry().getService('grpc.health.v1.Health')!;
      const request = create(messageSchema('grpc.health.v1.HealthCheckRequest'), { service: 'zitadel.Sérvice' });
      const answer = await rawGrpcWeb(t, '/grpc.health.v1.Health/Check', {
        contentType: GRPC_WEB,
        body: frame(0, toBinary(messageSchema('grpc.health.v1.HealthCheckRequest'), request)),
      });
      expect(answer.trailers['grpc-status']).toBe('5');
      expect(answer.trailers['grpc-message']).toBe('unknown service "zitadel.S%C3%A9rvice" (HEALTH-3nkwn)');

      const client = createClient(health, grpcWebTransport(t)) as any;
      const error = await client.check({ service: 'zitadel.Sérvice' }).catch((e: ConnectError) => e);
      expect(connectErrorResult(error)).toEqual({
        ok: false,
        code: 5,
        message: 'unknown service "zitadel.Sérvice" (HEALTH-3nkwn)',
        details: [
          {
            '@type': ERROR_DETAIL,
            id: 'HEALTH-3nkwn',
            message: 'unknown service "zitadel.Sérvice"',
          },
        ],
      });
    });

    it('application/grpc-web-text (base64) works both ways', async () => {
      const { userId } = await createHuman(t, { orgId, phone: '+41791234567' });
      const body = frame(0, requestBytes('UserService', 'GetUserByID', { userId })).toString('base64');
      const answer = await rawGrpcWeb(t, '/zitadel.user.v2.UserService/GetUserByID', {
        contentType: 'application/grpc-web-text',
        body,
        headers: { authorization: `Bearer ${t.adminToken}` },
      });
      expect(answer.headers.get('content-type')).toBe('application/grpc-web-text+proto');
      expect(answer.trailers['grpc-status']).toBe('0');
      const schema = messageSchema('zitadel.user.v2.GetUserByIDResponse');
      const res = toJson(schema, fromBinary(schema, answer.messages[0])) as any;
      expect(res.user.userId).toBe(userId);
      expect(res.details.sequence).toBe('3');

      const denied = await rawGrpcWeb(t, '/zitadel.user.v2.UserService/GetUserByID', {
        contentType: 'application/grpc-web-text+proto',
        body,
      });
      expect(denied.trailers['grpc-status']).toBe('16');
      expect(denied.trailers['grpc-message']).toBe('Bearer token missing or malformed (AUTH-n0t0k)');
    });
  });

  describe('CORS (default: any origin)', () => {
    it('a preflight allows the contract headers and exposes the grpc-* ones', async () => {
      const res = await t
        .http()
        .options('/zitadel.user.v2.UserService/VerifyPhone')
        .set('Origin', 'http://app.test')
        .set('Access-Control-Request-Method', 'POST')
        .set('Access-Control-Request-Headers', 'authorization,content-type,x-grpc-web,x-user-agent,grpc-timeout');
      expect(res.status).toBe(204);
      expect(res.headers['access-control-allow-origin']).toBe('*');
      expect(res.headers['access-control-allow-methods']).toMatch(/\bPOST\b/);
      const allowed = res.headers['access-control-allow-headers'].split(',').map((h: string) => h.trim());
      expect(allowed).toEqual(
        expect.arrayContaining(['authorization', 'content-type', 'x-grpc-web', 'x-user-agent', 'grpc-timeout']),
      );
      const exposed = res.headers['access-control-expose-headers'].split(',').map((h: string) => h.trim());
      expect(exposed).toEqual(expect.arrayContaining(['grpc-status', 'grpc-message', 'grpc-status-details-bin']));
    });

    it('the call itself carries the CORS headers', async () => {
      const { userId } = await createHuman(t, { orgId });
      const answer = await rawGrpcWeb(t, '/zitadel.user.v2.UserService/GetUserByID', {
        contentType: GRPC_WEB,
        body: frame(0, requestBytes('UserService', 'GetUserByID', { userId })),
        headers: { origin: 'http://app.test', authorization: `Bearer ${t.adminToken}` },
      });
      expect(answer.trailers['grpc-status']).toBe('0');
      expect(answer.headers.get('access-control-allow-origin')).toBe('*');
      expect(answer.headers.get('access-control-expose-headers')).toMatch(/grpc-status-details-bin/);
    });
  });

  describe('discovery and health', () => {
    const reflectionProtos = join(dirname(require.resolve('@grpc/reflection')), '..', 'proto');

    it.each(['v1', 'v1alpha'])('server reflection (%s) lists the services and describes them', async (version) => {
      const definition = loadSync(`grpc/reflection/${version}/reflection.proto`, {
        includeDirs: [reflectionProtos],
        keepCase: true,
        longs: String,
        defaults: false,
      });
      const pkg = loadPackageDefinition(definition) as any;
      const Reflection = pkg.grpc.reflection[version].ServerReflection;
      const client = new Reflection(grpcAddress(t), credentials.createInsecure());
      try {
        const answers: any[] = await new Promise((resolve, reject) => {
          const stream = client.ServerReflectionInfo();
          const received: any[] = [];
          stream.on('data', (answer: unknown) => {
            received.push(answer);
            if (received.length === 2) stream.end();
          });
          stream.on('error', reject);
          stream.on('end', () => resolve(received));
          stream.write({ list_services: '' });
          stream.write({ file_containing_symbol: 'zitadel.user.v2.UserService' });
        });
        const services = answers[0].list_services_response.service.map((s: { name: string }) => s.name);
        expect(services).toEqual(
          expect.arrayContaining([
            'zitadel.user.v2.UserService',
            'zitadel.org.v2.OrganizationService',
            'grpc.health.v1.Health',
          ]),
        );
        const files = answers[1].file_descriptor_response.file_descriptor_proto.map((bytes: Buffer) =>
          fromBinary(FileDescriptorProtoSchema, bytes),
        );
        const userService = files
          .flatMap((f: any) => f.service.map((s: any) => ({ pkg: f.package, ...s })))
          .find((s: any) => s.pkg === 'zitadel.user.v2' && s.name === 'UserService');
        expect(userService.method.map((m: { name: string }) => m.name).sort()).toEqual(
          serviceSchema('UserService')
            .methods.map((m) => m.name)
            .sort(),
        );
      } finally {
        client.close();
      }
    });

    it('grpc.health.v1.Health: Check and Watch answer SERVING; for a service we do not serve NOT_FOUND / SERVICE_UNKNOWN', async () => {
      const pkg = loadPackageDefinition(PACKAGE_DEFINITION) as any;
      const health = new pkg.grpc.health.v1.Health(grpcAddress(t), credentials.createInsecure());
      const check = (service: string) =>
        new Promise<any>((resolve, reject) =>
          health.Check({ service }, (error: ServiceError | null, res: unknown) =>
            error ? reject(error) : resolve(res),
          ),
        );
      /** The first status Watch sends (then the client hangs up). */
      const watch = (service: string) =>
        new Promise<unknown[]>((resolve, reject) => {
          const received: unknown[] = [];
          const stream = health.Watch({ service });
          stream.on('data', (message: unknown) => {
            received.push(message);
            stream.cancel();
          });
          stream.on('error', (error: ServiceError) => (error.code === 1 ? resolve(received) : reject(error)));
          stream.on('end', () => resolve(received));
        });
      try {
        await expect(check('')).resolves.toEqual({ status: 'SERVING' });
        await expect(check('zitadel.user.v2.UserService')).resolves.toEqual({ status: 'SERVING' });
        await expect(check('zitadel.org.v2.OrganizationService')).resolves.toEqual({ status: 'SERVING' });
        await expect(check('no.such.Service')).rejects.toMatchObject({ code: 5 });
        await expect(watch('')).resolves.toEqual([{ status: 'SERVING' }]);
        await expect(watch('no.such.Service')).resolves.toEqual([{ status: 'SERVICE_UNKNOWN' }]);
      } finally {
        health.close();
      }
    });

    it.each([
      ['/zitadel.user.v2.UserService/GetUserByID', true],
      ['/zitadel.user.v2.UserService/VerifyPhone', true],
      ['/grpc.health.v1.Health/Check', false],
    ])('bytes that are no protobuf message are INVALID_ARGUMENT on native gRPC too (%s)', async (path, auth) => {
      const client = new Client(grpcAddress(t), credentials.createInsecure());
      const call = (bytes: Buffer) =>
        new Promise<{ code: number; details: string }>((resolve) => {
          const metadata = new Metadata();
          if (auth) metadata.set('authorization', `Bearer ${t.adminToken}`);
          client.makeUnaryRequest(
            path,
            (b: Buffer) => b,
            (b: Buffer) => b,
            bytes,
            metadata,
            (error: ServiceError | null) => resolve({ code: error?.code ?? 0, details: error?.details ?? '' }),
          );
        });
      try {
        // field 1 (a string) with a length varint that never ends
        await expect(call(Buffer.from([0x0a, 0xff, 0xff]))).resolves.toEqual({
          code: 3,
          details:
            'invalid request: body: the message is not a valid protobuf encoding of the request (VALIDATION-1nv4l)',
        });
        const { userId } = await createHuman(t, { orgId });
        // and a well-formed call after it is answered as usual
        const valid: Record<string, [Uint8Array, number]> = {
          GetUserByID: [requestBytes('UserService', 'GetUserByID', { userId }), 0],
          VerifyPhone: [requestBytes('UserService', 'VerifyPhone', { userId, verificationCode: '123456' }), 9],
          Check: [new Uint8Array(0), 0],
        };
        const [bytes, code] = valid[path.split('/').pop()!];
        expect((await call(Buffer.from(bytes))).code).toBe(code);
      } finally {
        client.close();
      }
    });

    it('of a oneof sent twice the last member wins, as protobuf has it, at any depth', () => {
      const server = (grpcOptions('127.0.0.1', 0).options as any).packageDefinition['zitadel.user.v2.UserService'];
      // two encodings one after the other are one message with both members on the wire
      const both = (method: string, first: JsonValue, second: JsonValue) =>
        server[method].requestDeserialize(
          Buffer.concat([requestBytes('UserService', method, first), requestBytes('UserService', method, second)]),
        );
      expect(both('SetPhone', { userId: 'u', returnCode: {} }, { phone: 'p', isVerified: true })).toEqual({
        userId: 'u',
        phone: 'p',
        isVerified: true,
        verification: 'isVerified',
      });
      expect(both('SetPhone', { userId: 'u', isVerified: true }, { sendCode: {} })).toEqual({
        userId: 'u',
        phone: '',
        sendCode: {},
        verification: 'sendCode',
      });
      // inside one nested message (protobufjs keeps the last of two occurrences of a singular field)
      const phone = (value: JsonValue) =>
        toBinary(
          messageSchema('zitadel.user.v2.SetHumanPhone'),
          fromJson(messageSchema('zitadel.user.v2.SetHumanPhone'), value),
        );
      const nested = Buffer.concat([phone({ phone: '+41791234567', isVerified: true }), phone({ returnCode: {} })]);
      const human = server.AddHumanUser.requestDeserialize(
        Buffer.concat([
          requestBytes('UserService', 'AddHumanUser', { email: { email: 'a@b.test', returnCode: {} } }),
          Buffer.from([(10 << 3) | 2, nested.length]),
          nested,
        ]),
      );
      expect(human.phone).toEqual({ phone: '+41791234567', returnCode: {}, verification: 'returnCode' });
      expect(human.email).toEqual({ email: 'a@b.test', returnCode: {}, verification: 'returnCode' });
    });

    it('SetPhone over gRPC with is_verified and then return_code on the wire returns a code (the last member)', async () => {
      const { userId } = await createHuman(t, { orgId, phone: '+41791234567' });
      const client = new Client(grpcAddress(t), credentials.createInsecure());
      try {
        const bytes = Buffer.concat([
          requestBytes('UserService', 'SetPhone', { userId, phone: '+41797654321', isVerified: true }),
          requestBytes('UserService', 'SetPhone', { returnCode: {} }),
        ]);
        const answer = await new Promise<Buffer>((resolve, reject) => {
          const metadata = new Metadata();
          metadata.set('authorization', `Bearer ${t.adminToken}`);
          client.makeUnaryRequest(
            '/zitadel.user.v2.UserService/SetPhone',
            (b: Buffer) => b,
            (b: Buffer) => b,
            bytes,
            metadata,
            (error: ServiceError | null, value?: Buffer) => (error ? reject(error) : resolve(value!)),
          );
        });
        const reply = toJson(
          messageSchema('zitadel.user.v2.SetPhoneResponse'),
          fromBinary(messageSchema('zitadel.user.v2.SetPhoneResponse'), answer),
        ) as JsonObject;
        expect(reply.verificationCode).toMatch(/^\d{6}$/);
        const user = await grpcUnary(grpc, 'UserService', 'GetUserByID', { userId }, t.adminToken);
        expect(user.user.human.phone).toEqual({ phone: '+41797654321', isVerified: false });
      } finally {
        client.close();
      }
    });

    it('request bytes the server decodes are the ones buf encodes (SetPhone oneof field numbers)', () => {
      const bytes = requestBytes('UserService', 'SetPhone', { userId: 'u', phone: 'p', isVerified: true });
      const decoded = (PACKAGE_DEFINITION['zitadel.user.v2.UserService'] as any).SetPhone.requestDeserialize(
        Buffer.from(bytes),
      );
      expect(decoded).toEqual({ userId: 'u', phone: 'p', isVerified: true, verification: 'isVerified' });
      const back = toBinary(
        messageSchema('zitadel.user.v2.SetPhoneRequest'),
        fromBinary(messageSchema('zitadel.user.v2.SetPhoneRequest'), bytes),
      );
      expect(Buffer.from(back)).toEqual(Buffer.from([0x0a, 1, 0x75, 0x12, 1, 0x70, 0x28, 1]));
    });
  });
});

describe('gRPC-web CORS with GRPC_WEB_CORS_ORIGINS=http://a.test', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startApp('sqlite', { GRPC_WEB_CORS_ORIGINS: 'http://a.test' });
  }, 60_000);
  afterAll(() => t?.close(), 60_000);

  const preflight = (origin: string) =>
    t
      .http()
      .options('/zitadel.user.v2.UserService/VerifyPhone')
      .set('Origin', origin)
      .set('Access-Control-Request-Method', 'POST')
      .set('Access-Control-Request-Headers', 'content-type,x-grpc-web');

  it('echoes an allowed origin', async () => {
    const res = await preflight('http://a.test');
    expect(res.headers['access-control-allow-origin']).toBe('http://a.test');
    expect(res.headers.vary).toMatch(/\bOrigin\b/);
  });

  it('gives another origin no Access-Control-Allow-Origin, on the preflight and on the call', async () => {
    const res = await preflight('http://b.test');
    expect(res.headers['access-control-allow-origin']).toBeUndefined();
    const call = await rawGrpcWeb(t, '/zitadel.user.v2.UserService/GetUserByID', {
      contentType: GRPC_WEB,
      body: frame(0, requestBytes('UserService', 'GetUserByID', { userId: '1' })),
      headers: { origin: 'http://b.test' },
    });
    expect(call.trailers['grpc-status']).toBe('16');
    expect(call.headers.get('access-control-allow-origin')).toBeNull();
  });
});

describe('grpc.health.v1.Health/Watch across a shutdown', () => {
  it('stays open after SERVING and ends with NOT_SERVING and OK when the server shuts down', async () => {
    const t = await startApp('sqlite');
    const pkg = loadPackageDefinition(PACKAGE_DEFINITION) as any;
    const health = new pkg.grpc.health.v1.Health(grpcAddress(t), credentials.createInsecure());
    try {
      const received: unknown[] = [];
      const stream = health.Watch({ service: 'zitadel.user.v2.UserService' });
      const ended = new Promise<string>((resolve) => {
        stream.on('error', (error: ServiceError) => resolve(`error ${error.code}`));
        stream.on('status', (status: { code: number }) => resolve(`status ${status.code}`));
      });
      await new Promise<void>((resolve) =>
        stream.on('data', (message: unknown) => {
          received.push(message);
          resolve();
        }),
      );
      await t.close();
      await expect(ended).resolves.toBe('status 0');
      expect(received).toEqual([{ status: 'SERVING' }, { status: 'NOT_SERVING' }]);
    } finally {
      health.close();
    }
  }, 60_000);
});
