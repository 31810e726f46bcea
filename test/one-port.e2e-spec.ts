import { toJson } from '@bufbuild/protobuf';
import { Code, ConnectError, createClient } from '@connectrpc/connect';
import { createConnectTransport, createGrpcTransport } from '@connectrpc/connect-node';
import { credentials, Metadata } from '@grpc/grpc-js';
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { request as httpsRequest } from 'node:https';
import { connect as http2Connect } from 'node:http2';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { gunzipSync, gzipSync } from 'node:zlib';
import { createHuman, createOrg } from './support/factories';
import { onePortOf } from '../src/app.setup';
import { DATABASES, startApp, TestApp } from './support/test-app';
import {
  closeGrpcClients,
  connectTransport,
  grpcClients,
  grpcUnary,
  httpPort,
  protoRegistry,
  serviceSchema,
} from './support/transports';
import { ERROR_DETAIL } from './support/wire';
import { PROTO_ROOT } from '../src/common/grpc/proto-files';

const run = promisify(execFile);
const GET_USER = '/zitadel.user.v2.UserService/GetUserByID';
const BUF = require.resolve('@bufbuild/buf/bin/buf');

/** A Connect call with fetch (HTTP/1.1), as curl or a hand-written SDK would make it. */
async function post(t: TestApp, path: string, body: Buffer | string, headers: Record<string, string>) {
  const res = await fetch(`http://127.0.0.1:${httpPort(t)}${path}`, {
    method: 'POST',
    headers,
    body: typeof body === 'string' ? body : new Uint8Array(body),
  });
  return { status: res.status, headers: res.headers, body: Buffer.from(await res.arrayBuffer()) };
}

describe.each(DATABASES)('every protocol on the HTTP port (%s)', (db) => {
  let t: TestApp;
  let userId: string;

  beforeAll(async () => {
    // the separate gRPC port is off: everything below reaches the HTTP port only
    t = await startApp(db, { GRPC_PORT: '0', SMS_RESEND_COOLDOWN: '1m' });
    ({ userId } = await createHuman(t, { orgId: await createOrg(t), phone: '+41791234567' }));
  }, 60_000);
  afterAll(() => t?.close(), 60_000);

  describe('Connect, with connect-es', () => {
    it.each([
      ['JSON', '1.1', false],
      ['binary', '1.1', true],
      ['JSON', '2', false],
      ['binary', '2', true],
    ] as const)('%s over HTTP/%s answers as REST does', async (_codec, httpVersion, binary) => {
      const client = createClient(serviceSchema('UserService'), connectTransport(t, { httpVersion, binary })) as any;
      const headers = { authorization: `Bearer ${t.adminToken}` };
      const answer = await client.getUserByID({ userId }, { headers });
      const now = await t.http().get(`/v2/users/${userId}`).set(headers).expect(200);
      const output = serviceSchema('UserService').methods.find((m) => m.name === 'GetUserByID')!.output;
      expect(toJson(output, answer)).toEqual(now.body);

      const error = await client.getUserByID({ userId: 'nobody' }, { headers }).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(ConnectError);
      expect((error as ConnectError).code).toBe(Code.NotFound);
      expect((error as ConnectError).rawMessage).toMatch(/\(QUERY-Dfbg2\)$/);
      const detail = (error as ConnectError).findDetails(protoRegistry().getMessage('zitadel.v1.ErrorDetail')!);
      expect(detail).toEqual([expect.objectContaining({ id: 'QUERY-Dfbg2' })]);
    });

    it('a resend within the cooldown is resource_exhausted (429) with Retry-After', async () => {
      const headers = { 'content-type': 'application/json', authorization: `Bearer ${t.adminToken}` };
      const body = JSON.stringify({ userId, sendCode: {} });
      await post(t, '/zitadel.user.v2.UserService/ResendPhoneCode', body, headers);
      const res = await post(t, '/zitadel.user.v2.UserService/ResendPhoneCode', body, headers);
      expect(res.status).toBe(429);
      expect(Number(res.headers.get('retry-after'))).toBeGreaterThan(0);
      const error = JSON.parse(res.body.toString());
      expect(error).toMatchObject({ code: 'resource_exhausted', message: expect.any(String) });
      expect(error.details.map((d: { type: string }) => d.type)).toEqual(
        expect.arrayContaining(['zitadel.v1.ErrorDetail', 'google.rpc.RetryInfo']),
      );
    });

    it('without a token: unauthenticated (401) with WWW-Authenticate', async () => {
      const res = await post(t, GET_USER, JSON.stringify({ userId }), { 'content-type': 'application/json' });
      expect(res.status).toBe(401);
      expect(res.headers.get('www-authenticate')).toBe('Bearer');
      expect(JSON.parse(res.body.toString())).toMatchObject({ code: 'unauthenticated' });
    });
  });

  describe('Connect, by hand', () => {
    const auth = () => ({ authorization: `Bearer ${t.adminToken}` });

    it('curl: a plain JSON POST, no Connect-Protocol-Version header, as the ZITADEL SDKs send it', async () => {
      const { stdout } = await run('curl', [
        '-sS',
        '-X',
        'POST',
        `http://127.0.0.1:${httpPort(t)}${GET_USER}`,
        '-H',
        'content-type: application/json',
        '-H',
        `authorization: Bearer ${t.adminToken}`,
        '-d',
        JSON.stringify({ userId }),
      ]);
      expect(JSON.parse(stdout).user.userId).toBe(userId);
    });

    it('an error body: Connect error JSON with each detail as type, base64 value and debug', async () => {
      const res = await post(t, GET_USER, '{"userId":"nobody"}', { 'content-type': 'application/json', ...auth() });
      expect(res.status).toBe(404);
      expect(res.headers.get('content-type')).toBe('application/json');
      const body = JSON.parse(res.body.toString());
      expect(body).toEqual({
        code: 'not_found',
        message: 'User could not be found (QUERY-Dfbg2)',
        details: [
          {
            type: 'zitadel.v1.ErrorDetail',
            value: expect.stringMatching(/^[A-Za-z0-9+/]+$/),
            debug: { id: 'QUERY-Dfbg2', message: 'User could not be found' },
          },
        ],
      });
      expect(ERROR_DETAIL).toBe(`type.googleapis.com/${body.details[0].type}`);
    });

    it.each([
      ['an unknown field', '{"userId":"x","nickname":"y"}', 400, 'invalid_argument'],
      ['a body that is no JSON', '{"userId":', 400, 'invalid_argument'],
      ['a wrong type', '{"userId":42}', 400, 'invalid_argument'],
    ])('%s → %s %s, and the documented details', async (_name, body, status, code) => {
      const res = await post(t, GET_USER, body, { 'content-type': 'application/json', ...auth() });
      expect(res.status).toBe(status);
      const error = JSON.parse(res.body.toString());
      expect(error.code).toBe(code);
      expect(error.details.map((d: { type: string }) => d.type)).toEqual([
        'zitadel.v1.ErrorDetail',
        'google.rpc.BadRequest',
      ]);
    });

    it('Connect-Protocol-Version 1 is accepted, any other refused', async () => {
      const headers = { 'content-type': 'application/json', ...auth() };
      const ok = await post(t, GET_USER, JSON.stringify({ userId }), { ...headers, 'connect-protocol-version': '1' });
      expect(ok.status).toBe(200);
      const bad = await post(t, GET_USER, JSON.stringify({ userId }), { ...headers, 'connect-protocol-version': '2' });
      expect([bad.status, JSON.parse(bad.body.toString()).code]).toEqual([400, 'invalid_argument']);
    });

    it('Connect-Timeout-Ms sets the deadline: 0 is deadline_exceeded (504), a malformed one invalid_argument', async () => {
      const headers = { 'content-type': 'application/json', ...auth() };
      const late = await post(t, GET_USER, JSON.stringify({ userId }), { ...headers, 'connect-timeout-ms': '0' });
      expect([late.status, JSON.parse(late.body.toString()).code]).toEqual([504, 'deadline_exceeded']);
      const fine = await post(t, GET_USER, JSON.stringify({ userId }), { ...headers, 'connect-timeout-ms': '30000' });
      expect(fine.status).toBe(200);
      // longer than a Node timer holds (2^31 ms): not a deadline that has passed
      const far = await post(t, GET_USER, JSON.stringify({ userId }), {
        ...headers,
        'connect-timeout-ms': '9999999999',
      });
      expect(far.status).toBe(200);
      const bad = await post(t, GET_USER, JSON.stringify({ userId }), { ...headers, 'connect-timeout-ms': '-1' });
      expect([bad.status, JSON.parse(bad.body.toString()).code]).toEqual([400, 'invalid_argument']);
    });

    it('gzip: a compressed request is read, a large answer compressed for a caller that accepts it', async () => {
      const headers = { 'content-type': 'application/json', 'content-encoding': 'gzip', ...auth() };
      const res = await post(t, GET_USER, gzipSync(JSON.stringify({ userId })), headers);
      expect(JSON.parse(res.body.toString()).user.userId).toBe(userId);
      // a user with long names makes an answer over the 1 KiB threshold
      const long = 'x'.repeat(190);
      const human = await t
        .http()
        .post('/v2/users/human')
        .set(auth())
        .send({
          profile: { givenName: long, familyName: long, nickName: long, displayName: long },
          email: { email: `long.${Date.now()}@example.com` },
        })
        .expect(200);
      const raw = await new Promise<{ encoding?: string; body: Buffer }>((resolve, reject) => {
        const session = http2Connect(`http://127.0.0.1:${httpPort(t)}`);
        session.on('error', reject);
        const stream = session.request({
          ':method': 'POST',
          ':path': GET_USER,
          'content-type': 'application/json',
          'accept-encoding': 'gzip',
          ...auth(),
        });
        const chunks: Buffer[] = [];
        let encoding: string | undefined;
        stream.on('response', (h) => (encoding = h['content-encoding'] as string | undefined));
        stream.on('data', (c: Buffer) => chunks.push(c));
        stream.on('end', () => {
          session.close();
          resolve({ encoding, body: Buffer.concat(chunks) });
        });
        stream.end(JSON.stringify({ userId: human.body.userId }));
      });
      expect(raw.encoding).toBe('gzip');
      expect(JSON.parse(gunzipSync(raw.body).toString()).user.human.profile.nickName).toBe(long);
      const unknown = await post(t, GET_USER, '{}', { 'content-type': 'application/json', 'content-encoding': 'br' });
      expect([unknown.status, JSON.parse(unknown.body.toString()).code]).toEqual([501, 'unimplemented']);
    });

    it('a content type nobody speaks is 415 naming the accepted ones; GET is 405', async () => {
      const res = await post(t, GET_USER, 'x', { 'content-type': 'text/xml', ...auth() });
      expect(res.status).toBe(415);
      expect(res.headers.get('accept-post')).toMatch(/application\/json, application\/proto/);
      const get = await fetch(`http://127.0.0.1:${httpPort(t)}${GET_USER}`, { headers: auth() });
      expect([get.status, get.headers.get('allow')]).toEqual([405, 'POST']);
    });

    it('an unknown method is unimplemented (501)', async () => {
      const res = await post(t, '/zitadel.user.v2.UserService/ListUsers', '{}', {
        'content-type': 'application/json',
        ...auth(),
      });
      expect([res.status, JSON.parse(res.body.toString()).code]).toEqual([501, 'unimplemented']);
    });
  });

  describe('gRPC on the HTTP port', () => {
    it('grpc-js dialing the HTTP port: calls and the health check', async () => {
      const clients = grpcClients(t, `127.0.0.1:${httpPort(t)}`);
      try {
        const answer = await grpcUnary(clients, 'UserService', 'GetUserByID', { userId }, t.adminToken);
        expect(answer.user.userId).toBe(userId);
        const error = await grpcUnary(clients, 'UserService', 'GetUserByID', { userId: 'nobody' }, t.adminToken).catch(
          (e: unknown) => e,
        );
        expect(error).toMatchObject({ code: 5, details: 'User could not be found (QUERY-Dfbg2)' });
        expect((error as { metadata: Metadata }).metadata.get('grpc-status-details-bin')).toHaveLength(1);
      } finally {
        closeGrpcClients(clients);
      }
    });

    it('connect-es over gRPC (HTTP/2 prior knowledge), as ZITADEL Login V2 dials it', async () => {
      const transport = createGrpcTransport({ baseUrl: `http://127.0.0.1:${httpPort(t)}` });
      const client = createClient(serviceSchema('UserService'), transport) as any;
      const answer = await client.getUserByID({ userId }, { headers: { authorization: `Bearer ${t.adminToken}` } });
      expect(answer.user.userId).toBe(userId);
    });

    it('buf curl (Go: waits for the server preface) over gRPC and Connect, with reflection', async () => {
      const base = `http://127.0.0.1:${httpPort(t)}`;
      const list = await run(process.execPath, [
        BUF,
        'curl',
        '--protocol',
        'grpc',
        '--http2-prior-knowledge',
        '--list-methods',
        base,
      ]);
      expect(list.stdout).toContain('zitadel.user.v2.UserService/VerifyPhone');
      for (const protocol of ['grpc', 'connect']) {
        const { stdout } = await run(process.execPath, [
          BUF,
          'curl',
          '--protocol',
          protocol,
          // Connect has no streaming reflection here: buf reads the schema from proto/
          ...(protocol === 'grpc' ? ['--http2-prior-knowledge'] : ['--schema', PROTO_ROOT]),
          '-H',
          `authorization: Bearer ${t.adminToken}`,
          '-d',
          JSON.stringify({ userId }),
          `${base}${GET_USER}`,
        ]);
        expect(JSON.parse(stdout).user.userId).toBe(userId);
      }
    }, 60_000);

    it('REST over HTTP/2 prior knowledge answers as over HTTP/1.1', async () => {
      const { stdout } = await run('curl', [
        '-sS',
        '--http2-prior-knowledge',
        '-H',
        `authorization: Bearer ${t.adminToken}`,
        `http://127.0.0.1:${httpPort(t)}/v2/users/${userId}`,
      ]);
      const overHttp1 = await t.http().get(`/v2/users/${userId}`).set('authorization', `Bearer ${t.adminToken}`);
      expect(JSON.parse(stdout)).toEqual(overHttp1.body);
    });
  });
});

describe('TLS on the HTTP port', () => {
  let t: TestApp;
  let dir: string;
  let ca: Buffer;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'pv-tls-'));
    const [cert, key] = [join(dir, 'cert.pem'), join(dir, 'key.pem')];
    await run('openssl', [
      'req',
      '-x509',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:prime256v1',
      '-nodes',
      '-days',
      '2',
      '-subj',
      '/CN=localhost',
      '-addext',
      'subjectAltName=IP:127.0.0.1,DNS:localhost',
      '-keyout',
      key,
      '-out',
      cert,
    ]);
    ca = readFileSync(cert);
    t = await startApp('sqlite', { TLS_CERT_FILE: cert, TLS_KEY_FILE: key, GRPC_PORT: '0' });
  }, 60_000);
  afterAll(async () => {
    await t?.close();
    rmSync(dir, { recursive: true, force: true });
  }, 60_000);

  it('HTTP/1.1 (REST) over TLS', async () => {
    const status = await new Promise<number>((resolve, reject) => {
      const req = httpsRequest({ host: '127.0.0.1', port: httpPort(t), path: '/livez', ca }, (res) => {
        res.resume();
        resolve(res.statusCode!);
      });
      req.on('error', reject);
      req.end();
    });
    expect(status).toBe(200);
  });

  it('Connect over h2 (ALPN) and gRPC over TLS', async () => {
    const base = `https://127.0.0.1:${httpPort(t)}`;
    const headers = { authorization: `Bearer ${t.adminToken}` };
    const connect = createClient(
      serviceSchema('UserService'),
      createConnectTransport({ baseUrl: base, httpVersion: '2', nodeOptions: { ca } }),
    ) as any;
    const error = await connect.getUserByID({ userId: 'nobody' }, { headers }).catch((e: unknown) => e);
    expect((error as ConnectError).code).toBe(Code.NotFound);

    const clients = grpcClients(t, `127.0.0.1:${httpPort(t)}`, credentials.createSsl(ca));
    try {
      const grpcError = await grpcUnary(
        clients,
        'UserService',
        'GetUserByID',
        { userId: 'nobody' },
        t.adminToken,
      ).catch((e: unknown) => e);
      expect(grpcError).toMatchObject({ code: 5 });
    } finally {
      closeGrpcClients(clients);
    }
  });

  it('a plain-text connection gets nothing', async () => {
    const failed = await fetch(`http://127.0.0.1:${httpPort(t)}/livez`).then(
      () => false,
      () => true,
    );
    expect(failed).toBe(true);
  });
});

describe('keep-alive', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startApp('sqlite', { HTTP_KEEPALIVE_TIMEOUT: '1s' });
  }, 60_000);
  afterAll(() => t?.close(), 60_000);

  it('defaults above the 60 s of load balancers', async () => {
    const defaults = await startApp('sqlite');
    try {
      const server = defaults.app.getHttpServer();
      expect(server.keepAliveTimeout).toBe(65_000);
      expect(server.headersTimeout).toBeGreaterThan(server.keepAliveTimeout);
    } finally {
      await defaults.close();
    }
  }, 60_000);

  it('a stop (drain) ends HTTP/2 sessions with GOAWAY (NO_ERROR) after their streams, not resets', async () => {
    const app = await startApp('sqlite');
    try {
      const session = http2Connect(`http://127.0.0.1:${httpPort(app)}`);
      const stream = session.request({ ':path': '/livez' });
      const goaway = new Promise<number>((resolve) => session.on('goaway', (code: number) => resolve(code)));
      const status = new Promise((resolve) => stream.on('response', (h) => resolve(h[':status'])));
      stream.resume();
      await status;
      onePortOf(app.app)!.drain();
      expect(await goaway).toBe(0);
      await new Promise((resolve) => session.on('close', resolve));
    } finally {
      await app.close();
    }
  }, 60_000);

  it('an idle HTTP/2 session is ended with GOAWAY (NO_ERROR), not reset', async () => {
    const session = http2Connect(`http://127.0.0.1:${httpPort(t)}`);
    const stream = session.request({ ':path': '/livez' });
    stream.resume();
    await new Promise((resolve) => stream.on('end', resolve));
    const goaway = await new Promise<number>((resolve) => session.on('goaway', (code: number) => resolve(code)));
    expect(goaway).toBe(0);
    await new Promise((resolve) => session.on('close', resolve));
  }, 30_000);
});
