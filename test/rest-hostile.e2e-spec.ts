import type { JsonObject } from '@bufbuild/protobuf';
import { createHuman, createMachineWithToken, createOrg } from './support/factories';
import { rawHttp } from './support/raw-http';
import { bearer, DATABASES, Db, startApp, TestApp } from './support/test-app';
import {
  CallResult,
  grpcClients,
  grpcErrorResult,
  grpcUnary,
  httpPort,
  TRANSPORTS,
  transportCaller,
} from './support/transports';
import { closeGrpcClients } from './support/transports';
import type { ServiceError } from '@grpc/grpc-js';
import { BAD_REQUEST, errorBody, validationBody, violatedFields } from './support/wire';

const PHONE = '+41791234567';

/** The fields a failed call names in its BadRequest, sorted. */
function fieldsOf(result: CallResult): string[] {
  if (result.ok) return [];
  const badRequest = result.details.find((d) => d['@type'] === BAD_REQUEST) as
    { fieldViolations?: Array<{ field: string }> } | undefined;
  return (badRequest?.fieldViolations ?? []).map((v) => v.field).sort();
}

const nested = (depth: number, open: string, close: string, inner = '1') =>
  open.repeat(depth) + inner + close.repeat(depth);

describe.each(DATABASES)('hostile input (%s)', (db: Db) => {
  let t: TestApp;
  let orgId: string;
  let roleless: { userId: string; token: string };
  let userId: string;

  beforeAll(async () => {
    t = await startApp(db);
    orgId = await createOrg(t);
    roleless = await createMachineWithToken(t, orgId);
    ({ userId } = await createHuman(t, { orgId }));
  }, 60_000);
  afterAll(async () => {
    await t?.close();
  }, 60_000);

  const post = (path: string, body: string | object, token = t.adminToken) =>
    t.http().post(path).set(bearer(token)).set('Content-Type', 'application/json').send(body);

  /** After hostile input the app still does its job: a code is set and verified. */
  async function stillServes(): Promise<void> {
    const { userId: fresh } = await createHuman(t, { orgId });
    const set = await post(`/v2/users/${fresh}/phone`, { phone: PHONE, returnCode: {} }).expect(200);
    await post(`/v2/users/${fresh}/phone/verify`, { verificationCode: set.body.verificationCode }).expect(200);
  }

  describe('JSON the transformation cannot take (issue 12.3)', () => {
    it.each([
      ['an object', nested(5000, '{"a":', '}')],
      ['a list', nested(5000, '[', ']')],
      ['a known field', `{"phone":${nested(5000, '{"a":', '}')}}`],
      ['an unknown field', `{"phone":"${PHONE}","x":${nested(5000, '[', ']')}}`],
    ])('answers a body nested 5,000 levels deep in %s with 400 naming the body', async (_, raw) => {
      const res = await post(`/v2/users/${userId}/phone`, raw);
      expect(res.status).toBe(400);
      expect(res.body).toEqual(validationBody(['body']));
      expect(violatedFields(res.body)).toEqual(['body']);
      await stillServes();
    });

    it('accepts a body nested as deep as the contract goes, with unknown fields a few levels down', async () => {
      const res = await post('/v2/organizations', {
        name: `Deep enough ${db}`,
        admins: [{ human: { profile: { givenName: 'A', familyName: 'B' }, email: { email: 'a@example.com' } } }],
        extra: { a: { b: { c: [[{ d: 1 }]] } } },
      });
      expect(res.status).toBe(200);
    });

    it('answers a lone surrogate in an e-mail with 400, also for a caller without any role', async () => {
      for (const token of [roleless.token, t.adminToken]) {
        const res = await post(
          '/v2/users/human',
          '{"organization":{"orgId":"' +
            orgId +
            '"},"profile":{"givenName":"A","familyName":"B"},' +
            '"email":{"email":"\\ud800"}}',
          token,
        );
        expect(res.status).toBe(400);
        expect(violatedFields(res.body)).toEqual(['email.email']);
      }
    });

    it.each(['SetPhone', 'ResendPhoneCode'])(
      'reads {"constructor":{"prototype":{}}} in %s returnCode as the empty message it is',
      async (method) => {
        const { userId: fresh } = await createHuman(t, { orgId, phone: PHONE });
        const hostile = '{"constructor":{"prototype":{}},"__proto__":{"polluted":true}}';
        const res =
          method === 'SetPhone'
            ? await post(`/v2/users/${fresh}/phone`, `{"phone":"+41791234568","returnCode":${hostile}}`)
            : await post(`/v2/users/${fresh}/phone/resend`, `{"returnCode":${hostile}}`);
        expect(res.status).toBe(200);
        expect(res.body.verificationCode).toMatch(/^\d{6}$/);
        expect(({} as Record<string, unknown>).polluted).toBeUndefined();
      },
    );

    it('reads "machine": null in CreateUser as unset: 400 asking for human or machine', async () => {
      const res = await post('/v2/users/new', { organizationId: orgId, machine: null });
      expect(res.status).toBe(400);
      expect(violatedFields(res.body)).toEqual(['human']);
      const ok = await post('/v2/users/new', { organizationId: orgId, human: null, machine: { name: 'robot' } });
      expect(ok.status).toBe(200);
    });
  });

  describe('NUL and unpaired surrogates (issue 12.4)', () => {
    it.each([
      ['GET', '/v2/users/%00', undefined],
      ['POST', '/v2/users/a%00b/phone', { phone: PHONE }],
      ['POST', '/v2/users/a%00b/lock', {}],
      ['DELETE', '/v2/users/%00/phone', {}],
      ['POST', '/v2/users/%00/pats', {}],
    ])('answers %s %s (a NUL in the path id) with 400 naming userId', async (method, path, body) => {
      const req = method === 'GET' ? t.http().get(path) : t.http()[method === 'POST' ? 'post' : 'delete'](path);
      const res = await req.set(bearer(t.adminToken)).send(body);
      expect(res.status).toBe(400);
      expect(violatedFields(res.body)).toEqual(['userId']);
    });

    it.each(['/v2/users/%E0', '/v2/users/%ZZ', '/v2/users/%ED%A0%80'])(
      'answers GET %s (a path id that is no percent-encoded UTF-8) with 400',
      async (path) => {
        const res = await t.http().get(path).set(bearer(t.adminToken));
        expect([res.status, res.body.code]).toEqual([400, 3]);
      },
    );

    it.each([
      ['/v2/organizations', { name: 'a\u0000b' }, ['name']],
      ['/v2/organizations', { name: 'fine', organizationId: '\u0000' }, ['organizationId']],
      ['/v2/organizations', { name: 'x\ud800y' }, ['name']],
      ['/v2/organizations', { name: 'fine', admins: [{ userId: '\udc00' }] }, ['admins.0.userId']],
      ['/v2/users/new', { organizationId: '\u0000', machine: { name: 'r' } }, ['organizationId']],
      ['/v2/users/new', { organizationId: 'o', machine: { name: 'r\u0000' } }, ['machine.name']],
    ])('answers POST %s %j with 400 naming the field', async (path, body, fields) => {
      const res = await post(path, body);
      expect(res.status).toBe(400);
      expect(res.body).toEqual(validationBody(fields));
      expect(violatedFields(res.body)).toEqual(fields);
    });

    it('names every bad string of a request at once', async () => {
      const res = await post('/v2/users/human', {
        username: '\u0000',
        organization: { orgId },
        profile: { givenName: 'x\u0000', familyName: '\ud83d' },
        email: { email: 'a@example.com' },
      });
      expect(violatedFields(res.body)).toEqual(['profile.familyName', 'profile.givenName', 'username']);
    });

    it('keeps text with paired surrogates, combining marks and right-to-left script', async () => {
      const name = `Org 😀 é שלום ${db}`;
      const res = await post('/v2/organizations', { name });
      expect(res.status).toBe(200);
    });

    it.each(TRANSPORTS)('refuses NUL in user_id, verification_code and name over %s', async (transport) => {
      const caller = transportCaller(t, transport);
      try {
        const cases: Array<[string, 'UserService' | 'OrganizationService', string, JsonObject, string[]]> = [
          ['SetPhone', 'UserService', 'SetPhone', { userId: 'a\u0000b', phone: PHONE }, ['userId']],
          [
            'VerifyPhone',
            'UserService',
            'VerifyPhone',
            { userId, verificationCode: '12\u00003' },
            ['verificationCode'],
          ],
          ['GetUserByID', 'UserService', 'GetUserByID', { userId: '\u0000' }, ['userId']],
          ['AddOrganization', 'OrganizationService', 'AddOrganization', { name: '\u0000' }, ['name']],
        ];
        for (const [label, service, method, request, fields] of cases) {
          const result = await caller.call(service, method, request, t.adminToken);
          expect({ label, ok: result.ok, code: result.ok ? 0 : result.code, fields: fieldsOf(result) }).toEqual({
            label,
            ok: false,
            code: 3,
            fields,
          });
        }
      } finally {
        caller.close();
      }
      await stillServes();
    });
  });

  describe('what Node refuses before the app sees it (issue 12.5)', () => {
    // a raw connection reads up to the server's close
    const RAW_TIMEOUT = 30_000;
    const tooLarge = errorBody(3, 'API-hdr2big', 'Request header fields are too large');

    it.each([
      ['a URL of 17 KB', `GET /v2/users/${'1'.repeat(17 * 1024)} HTTP/1.1\r\nHost: x\r\n\r\n`],
      ['20 KB of query', `GET /v2/users/1?q=${'a'.repeat(20 * 1024)} HTTP/1.1\r\nHost: x\r\n\r\n`],
      ['a 20 KB header', `GET /v2/users/1 HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(20 * 1024)}\r\n\r\n`],
      [
        '2,000 headers',
        `GET /v2/users/1 HTTP/1.1\r\nHost: x\r\n${Array.from({ length: 2000 }, (_, i) => `X-H${i}: v${i}\r\n`).join('')}\r\n`,
      ],
    ])(
      'answers %s with 431 and the error body, then closes',
      async (_, request) => {
        const res = await rawHttp(httpPort(t), request);
        expect([res.status, res.headers['content-type']]).toEqual([431, 'application/json; charset=utf-8']);
        expect(JSON.parse(res.body)).toEqual(tooLarge);
        expect(Number(res.headers['content-length'])).toBe(Buffer.byteLength(res.body));
        await stillServes();
      },
      RAW_TIMEOUT,
    );

    it(
      'answers more than 2,000 header lines within the size limit with 431 instead of dropping the rest',
      async () => {
        const headers = Array.from({ length: 2100 }, () => 'a:b\r\n').join('');
        const res = await rawHttp(
          httpPort(t),
          `GET /v2/users/${userId} HTTP/1.1\r\nHost: x\r\n${headers}Authorization: Bearer ${t.adminToken}\r\n\r\n`,
        );
        expect(res.status).toBe(431);
        expect(JSON.parse(res.body)).toEqual(errorBody(3, 'API-hdrmany', 'Too many request header fields'));
      },
      RAW_TIMEOUT,
    );

    it.each([
      ['a garbage request line', 'HELLO THERE\r\n\r\n'],
      ['a header without a colon', 'GET /v2/users/1 HTTP/1.1\r\nHost: x\r\nnocolon\r\n\r\n'],
      ['a NUL in a header value', 'GET /v2/users/1 HTTP/1.1\r\nHost: x\r\nX-A: a\u0000b\r\n\r\n'],
      [
        'a bad chunk size',
        'POST /v2/organizations HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n',
      ],
    ])(
      'answers %s with 400 and the error body, then closes',
      async (_, request) => {
        const res = await rawHttp(httpPort(t), request);
        expect(res.status).toBe(400);
        expect(JSON.parse(res.body)).toEqual(errorBody(3, 'API-badreq', 'Malformed HTTP request'));
        expect(res.closed).toBe(true);
      },
      RAW_TIMEOUT,
    );

    it(
      'answers a request that fits with the ordinary answer, on the same kind of raw connection',
      async () => {
        const res = await rawHttp(
          httpPort(t),
          `GET /v2/users/${userId} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${t.adminToken}\r\nConnection: close\r\n\r\n`,
        );
        expect(res.status).toBe(200);
        expect(JSON.parse(res.body).user.userId).toBe(userId);
      },
      RAW_TIMEOUT,
    );
  });

  describe('where the protobuf JSON mapping is strict (issue 12.7)', () => {
    it.each([
      ['LockUser', 'post', (id: string) => `/v2/users/${id}/lock`],
      ['RemovePhone', 'delete', (id: string) => `/v2/users/${id}/phone`],
      ['AddPersonalAccessToken', 'post', (id: string) => `/v2/users/${id}/pats`],
    ] as const)('answers a JSON list as the whole body of %s with 400 naming the body', async (_, verb, path) => {
      for (const raw of ['[]', '[{"userId":"1"}]']) {
        const res = await t.http()[verb](path(userId)).set(bearer(t.adminToken)).type('json').send(raw);
        expect(res.status).toBe(400);
        expect(violatedFields(res.body)).toEqual(['body']);
      }
    });

    it.each([
      ['2099-01-01 00:00:00', 400],
      ['2099-01-01', 400],
      ['2099-01-01T00:00:00', 400],
      ['2099-02-30T00:00:00Z', 400],
      ['2099-01-01T24:00:00Z', 400],
      ['2099-01-01t00:00:00z', 400],
      ['2099-01-01T00:00:00.1234567891Z', 400],
      ['2099-01-01T00:00:00Z', 200],
      ['2099-01-01T00:00:00.123456789Z', 200],
      ['2099-01-01T01:00:00+01:00', 200],
    ])('AddPersonalAccessToken with expirationDate %s answers %i', async (expirationDate, status) => {
      const machine = await createMachineWithToken(t, orgId);
      const res = await post(`/v2/users/${machine.userId}/pats`, { expirationDate });
      expect(res.status).toBe(status);
      if (status === 400) expect(violatedFields(res.body)).toEqual(['expirationDate']);
    });

    it.each([
      ['a number', { metadata: [{ key: 'k', value: 5 }] }, ['metadata.0.value']],
      ['a list', { metadata: [{ key: 'k', value: ['dmFsdWU='] }] }, ['metadata.0.value']],
      ['not base64', { metadata: [{ key: 'k', value: 'not base64!' }] }, ['metadata.0.value']],
      ['an object for the list', { metadata: { key: 'k', value: 'dmFsdWU=' } }, ['metadata']],
      ['a number key', { metadata: [{ key: 1, value: 'dmFsdWU=' }] }, ['metadata.0.key']],
      ['a null element', { metadata: [null] }, ['metadata.0']],
    ])('AddHumanUser with metadata holding %s answers 400 naming it', async (_, extra, fields) => {
      const res = await post('/v2/users/human', {
        organization: { orgId },
        profile: { givenName: 'A', familyName: 'B' },
        email: { email: 'meta@example.com' },
        ...extra,
      });
      expect(res.status).toBe(400);
      expect(violatedFields(res.body)).toEqual(fields);
    });

    it('accepts metadata as the mapping writes it (and ignores it, contract §3)', async () => {
      const res = await post('/v2/users/human', {
        organization: { orgId },
        profile: { givenName: 'A', familyName: 'B' },
        email: { email: 'meta.ok@example.com' },
        metadata: [
          { key: 'k', value: 'dmFsdWU=' },
          { key: 'url-safe', value: 'a-_b' },
        ],
      });
      expect(res.status).toBe(200);
    });

    it('answers CreateUser metadata given as a number with 400 naming it', async () => {
      const res = await post('/v2/users/new', {
        organizationId: orgId,
        machine: { name: 'robot' },
        metadata: [{ key: 'k', value: 12 }],
      });
      expect(violatedFields(res.body)).toEqual(['metadata.0.value']);
    });

    it.each([
      ['seconds past year 9999', { seconds: '253402300800', nanos: 0 }],
      ['seconds far past what a Date holds', { seconds: '99999999999999', nanos: 0 }],
      ['seconds before year 1', { seconds: '-62135596801', nanos: 0 }],
      ['nanos over a second', { seconds: '4102444800', nanos: 1_000_000_000 }],
      ['negative nanos', { seconds: '4102444800', nanos: -1 }],
    ])('answers a gRPC Timestamp with %s with INVALID_ARGUMENT naming it', async (_, expirationDate) => {
      const machine = await createMachineWithToken(t, orgId);
      const clients = grpcClients(t);
      try {
        const error = await grpcUnary(
          clients,
          'UserService',
          'AddPersonalAccessToken',
          { userId: machine.userId, expirationDate },
          t.adminToken,
        ).then(
          () => undefined,
          (e: ServiceError) => e,
        );
        expect(error).toBeDefined();
        const result = grpcErrorResult(error!);
        expect([result.ok ? 0 : result.code, fieldsOf(result)]).toEqual([3, ['expirationDate']]);
      } finally {
        closeGrpcClients(clients);
      }
    });

    it('reads an enum given by number as the name it stands for', async () => {
      const res = await post('/v2/users/human', {
        organization: { orgId },
        profile: { givenName: 'A', familyName: 'B', gender: 1 },
        email: { email: 'enum@example.com' },
      });
      expect(res.status).toBe(200);
      const user = await t.http().get(`/v2/users/${res.body.userId}`).set(bearer(t.adminToken)).expect(200);
      expect(user.body.user.human.profile.gender).toBe('GENDER_FEMALE');
    });

    it('still serves after all of the above', async () => {
      await stillServes();
    });
  });
});
