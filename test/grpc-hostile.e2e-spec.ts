import type { JsonObject } from '@bufbuild/protobuf';
import { Client, credentials, Metadata, ServiceError } from '@grpc/grpc-js';
import { Agent, request as httpRequest } from 'node:http';
import { ClientHttp2Session, connect, IncomingHttpHeaders } from 'node:http2';
import { deflateSync, gzipSync } from 'node:zlib';
import { createHuman, createOrg } from './support/factories';
import { bearer, DATABASES, startApp, TestApp } from './support/test-app';
import { grpcAddress, httpPort, requestBytes, statusJson } from './support/transports';
import { BAD_REQUEST, ERROR_DETAIL, GRPC_WEB, NO_TOKEN } from './support/wire';
import * as rpcHttp from '../src/common/rpc/rpc-http';

/**
 * Hostile calls over native gRPC (hand-made HTTP/2) and gRPC-web: each gets a clean status in the
 * documented body, the process stays up, the same connection serves the next call, and no token
 * reaches a log or stderr.
 */

const GET_USER = '/zitadel.user.v2.UserService/GetUserByID';
const HEALTH = '/grpc.health.v1.Health/Check';

function frame(flags: number, payload: Uint8Array): Buffer {
  const header = Buffer.alloc(5);
  header[0] = flags;
  header.writeUInt32BE(payload.length, 1);
  return Buffer.concat([header, payload]);
}

/** HealthCheckRequest{service} on the wire, built by hand so any bytes can be the name. */
function checkRequest(service: Buffer): Buffer {
  const length: number[] = [];
  for (let n = service.length; ; n >>>= 7) {
    if (n < 0x80) {
      length.push(n);
      break;
    }
    length.push((n & 0x7f) | 0x80);
  }
  return Buffer.concat([Buffer.from([0x0a, ...length]), service]);
}

interface Answer {
  code: number;
  message: string;
  details: JsonObject[];
  messages: Buffer[];
  /** bytes of the trailer fields (names and values) */
  trailerBytes: number;
}

function answerOf(trailers: Record<string, string>, messages: Buffer[]): Answer {
  const bin = trailers['grpc-status-details-bin'];
  const code = Number(trailers['grpc-status']);
  const message = decodeURIComponent(trailers['grpc-message'] ?? '');
  const status = bin ? statusJson(Buffer.from(bin, 'base64')) : undefined;
  // the documented body: every error carries grpc-status-details-bin, agreeing with the status
  if (code !== 0) expect(status).toMatchObject({ code, message });
  const trailerBytes = Object.entries(trailers).reduce((sum, [k, v]) => sum + k.length + v.length, 0);
  return { code, message, details: status?.details ?? [], messages, trailerBytes };
}

const grpcFields = (headers: IncomingHttpHeaders) =>
  Object.fromEntries(
    Object.entries(headers)
      .filter(([key]) => key.startsWith('grpc-'))
      .map(([key, value]) => [key, String(value)]),
  );

/** One call on an open HTTP/2 connection, with any headers and body bytes. */
function rawGrpc(
  session: ClientHttp2Session,
  path: string,
  body: Buffer,
  headers: Record<string, string> = {},
): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const stream = session.request({
      ':method': 'POST',
      ':path': path,
      'content-type': 'application/grpc',
      te: 'trailers',
      ...headers,
    });
    let fields: Record<string, string> = {};
    const chunks: Buffer[] = [];
    stream.on('response', (h) => (fields = grpcFields(h)));
    stream.on('trailers', (h) => (fields = { ...fields, ...grpcFields(h) }));
    stream.on('data', (chunk: Buffer) => chunks.push(chunk));
    stream.on('error', reject);
    stream.on('end', () => {
      const data = Buffer.concat(chunks);
      const messages: Buffer[] = [];
      for (let at = 0; at + 5 <= data.length; at += 5 + data.readUInt32BE(at + 1)) {
        messages.push(data.subarray(at + 5, at + 5 + data.readUInt32BE(at + 1)));
      }
      resolve(answerOf(fields, messages));
    });
    stream.end(body);
  });
}

/** A gRPC-web call over one kept-alive HTTP/1.1 connection (the agent has a single socket). */
function rawGrpcWeb(agent: Agent, port: number, path: string, body: Buffer, headers: Record<string, string> = {}) {
  return new Promise<Answer & { socket: number }>((resolve, reject) => {
    const req = httpRequest(
      { host: '127.0.0.1', port, path, method: 'POST', agent, headers: { 'content-type': GRPC_WEB, ...headers } },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () => {
          const data = Buffer.concat(chunks);
          const fields: Record<string, string> = {};
          const messages: Buffer[] = [];
          for (let at = 0; at + 5 <= data.length; at += 5 + data.readUInt32BE(at + 1)) {
            const payload = data.subarray(at + 5, at + 5 + data.readUInt32BE(at + 1));
            if (!(data[at] & 0x80)) messages.push(payload);
            else
              for (const line of payload.toString('utf8').split('\r\n').filter(Boolean)) {
                const colon = line.indexOf(':');
                fields[line.slice(0, colon)] = line.slice(colon + 1);
              }
          }
          resolve({ ...answerOf(fields, messages), socket: socketIds.get(req.socket!) ?? -1 });
        });
      },
    );
    req.on('socket', (socket) => {
      if (!socketIds.has(socket)) socketIds.set(socket, socketIds.size);
    });
    req.on('error', reject);
    req.end(body);
  });
}
const socketIds = new Map<object, number>();

describe.each(DATABASES)('hostile gRPC and gRPC-web calls (%s)', (db) => {
  let t: TestApp;
  let session: ClientHttp2Session;
  let agent: Agent;
  let userId: string;
  let getUser: Buffer;
  const printed: string[] = [];
  const restore: Array<() => void> = [];

  beforeAll(async () => {
    // what grpc-js or anything else writes to stderr (directly or through console.error)
    const errorSpy = jest.spyOn(console, 'error').mockImplementation((...args) => printed.push(args.join(' ')));
    const write = process.stderr.write.bind(process.stderr);
    const stderrSpy = jest.spyOn(process.stderr, 'write').mockImplementation((chunk: string | Uint8Array, ...rest) => {
      printed.push(String(chunk));
      return write(chunk, ...(rest as []));
    });
    restore.push(
      () => errorSpy.mockRestore(),
      () => stderrSpy.mockRestore(),
    );
    t = await startApp(db);
    userId = (await createHuman(t, { orgId: await createOrg(t) })).userId;
    getUser = frame(0, requestBytes('UserService', 'GetUserByID', { userId }));
    session = connect(`http://${grpcAddress(t)}`);
    agent = new Agent({ keepAlive: true, maxSockets: 1 });
  }, 60_000);

  afterAll(async () => {
    session?.destroy();
    agent?.destroy();
    await t?.close();
    for (const undo of restore) undo();
  }, 60_000);

  afterEach(() => {
    const everything = [...printed, ...t.logs].join('\n');
    expect(everything).not.toContain(t.adminToken);
    expect(t.logs.filter((line) => line.includes('unexpected error'))).toEqual([]);
  });

  /** The process is up and the same HTTP/2 connection still answers, a guarded call included. */
  async function nativeStillServes() {
    expect(session.closed || session.destroyed).toBe(false);
    await expect(rawGrpc(session, HEALTH, frame(0, Buffer.alloc(0)))).resolves.toMatchObject({ code: 0 });
    const user = await rawGrpc(session, GET_USER, getUser, bearer(t.adminToken));
    expect(user).toMatchObject({ code: 0, messages: [expect.any(Buffer)] });
  }

  /** The same for the gRPC-web connection: the next call rides the socket the hostile one used. */
  async function webStillServes(socket: number) {
    const user = await rawGrpcWeb(agent, httpPort(t), GET_USER, getUser, bearer(t.adminToken));
    expect(user).toMatchObject({ code: 0, messages: [expect.any(Buffer)], socket });
  }

  describe('header values metadata cannot hold (gRPC-web)', () => {
    it.each([
      ['x-user-agent', 'grpc-web-javascript/0.1\tevil'],
      ['x-user-agent', 'caf\u00e9'],
      ['idempotency-key', 'key\twith-tab'],
      ['x-captcha-token', '\u00ff'.repeat(10)],
    ])('%s %j is INVALID_ARGUMENT naming the header', async (header, value) => {
      const answer = await rawGrpcWeb(agent, httpPort(t), GET_USER, getUser, {
        ...bearer(t.adminToken),
        [header]: value,
      });
      expect(answer).toMatchObject({ code: 3, messages: [] });
      expect(answer.details).toEqual([
        expect.objectContaining({ '@type': ERROR_DETAIL, id: 'VALIDATION-1nv4l' }),
        {
          '@type': BAD_REQUEST,
          fieldViolations: [{ field: header, description: `the ${header} header must be printable ASCII (0x20-0x7E)` }],
        },
      ]);
      await webStillServes(answer.socket);
    });

    it.each([['id\twith-tab'], ['\u00ff'.repeat(10)]])(
      'an x-request-id %j is replaced by a new id, as over REST: the call is answered',
      async (value) => {
        const answer = await rawGrpcWeb(agent, httpPort(t), GET_USER, getUser, {
          ...bearer(t.adminToken),
          'x-request-id': value,
        });
        expect(answer).toMatchObject({ code: 0, messages: [expect.any(Buffer)] });
        await webStillServes(answer.socket);
      },
    );

    it.each([
      ['a tab after Bearer', (token: string) => `Bearer\t${token}`],
      ['a byte over 0x7E in the token', (token: string) => `Bearer ${token}\u00e9`],
    ])('an Authorization with %s is UNAUTHENTICATED, as over REST and native gRPC', async (_name, value) => {
      const authorization = value(t.adminToken);
      const web = await rawGrpcWeb(agent, httpPort(t), GET_USER, getUser, { authorization });
      expect(web).toMatchObject({ code: 16, message: NO_TOKEN.message, messages: [] });
      expect(web.details).toEqual(NO_TOKEN.details);
      await webStillServes(web.socket);

      const native = await rawGrpc(session, GET_USER, getUser, { authorization });
      expect(native).toMatchObject({ code: 16, message: NO_TOKEN.message });
      await nativeStillServes();
      // grpc-js drops the entry; our log says so without the value
      expect(t.logs.some((line) => line.includes('"header":"authorization"'))).toBe(true);

      const rest = await t.http().get(`/v2/users/${userId}`).set('Authorization', authorization);
      expect(rest.status).toBe(401);
      expect(rest.body.message).toBe(NO_TOKEN.message);
    });

    it('a public method ignores an unreadable Authorization, as REST does', async () => {
      const answer = await rawGrpcWeb(agent, httpPort(t), HEALTH, frame(0, Buffer.alloc(0)), {
        authorization: `Bearer\t${t.adminToken}`,
      });
      expect(answer).toMatchObject({ code: 0, messages: [Buffer.from([0x08, 0x01])] });
    });

    it('an unreadable grpc-timeout is INVALID_ARGUMENT naming it, over gRPC-web and native gRPC', async () => {
      const violation = {
        '@type': BAD_REQUEST,
        fieldViolations: [
          { field: 'grpc-timeout', description: 'a timeout is 1 to 8 digits and a unit: H, M, S, m, u or n' },
        ],
      };
      const web = await rawGrpcWeb(agent, httpPort(t), HEALTH, frame(0, Buffer.alloc(0)), { 'grpc-timeout': 'abc' });
      expect(web).toMatchObject({ code: 3, messages: [] });
      expect(web.details[1]).toEqual(violation);
      await webStillServes(web.socket);

      const native = await rawGrpc(session, HEALTH, frame(0, Buffer.alloc(0)), { 'grpc-timeout': 'abc' });
      expect(native.code).toBe(3);
      expect(native.details[1]).toEqual(violation);
      await nativeStillServes();
    });

    it('a compressed frame from a browser is INVALID_ARGUMENT in the documented body', async () => {
      const answer = await rawGrpcWeb(agent, httpPort(t), HEALTH, frame(1, Buffer.from('not gzip')), {
        'grpc-encoding': 'gzip',
      });
      expect(answer).toMatchObject({ code: 3, messages: [] });
      expect(answer.details[1]).toEqual({
        '@type': BAD_REQUEST,
        fieldViolations: [
          { field: 'body', description: 'malformed gRPC-web request: compressed frames are not supported' },
        ],
      });
      await webStillServes(answer.socket);
    });
  });

  describe('statuses gRPC makes up itself carry an ID in the documented body (found by the fuzz suite)', () => {
    it('a deadline that passes is DEADLINE_EXCEEDED API-deadline', async () => {
      // Watch streams until the caller goes: its deadline always ends it
      const watch = '/grpc.health.v1.Health/Watch';
      const answer = await rawGrpc(session, watch, frame(0, Buffer.alloc(0)), { 'grpc-timeout': '100m' });
      expect(answer.code).toBe(4);
      expect(answer.details[0]).toMatchObject({ '@type': ERROR_DETAIL, id: 'API-deadline' });
      await nativeStillServes();
    });

    it('a frame whose length is over the message limit is RESOURCE_EXHAUSTED API-t00big', async () => {
      // no frame header: the first bytes of the message read as a length of ~300 MB
      const unframed = requestBytes('UserService', 'GetUserByID', { userId: '386285662026960896' });
      const answer = await rawGrpc(session, GET_USER, Buffer.from(unframed), bearer(t.adminToken));
      expect(answer.code).toBe(8);
      expect(answer.details[0]).toMatchObject({ '@type': ERROR_DETAIL, id: 'API-t00big' });
      await nativeStillServes();
    });

    it('a gRPC-web content type the bridge does not serve gets a gRPC-web answer naming it', async () => {
      const answer = await rawGrpcWeb(agent, httpPort(t), GET_USER, getUser, {
        ...bearer(t.adminToken),
        'content-type': 'application/grpc-web+json',
      });
      expect(answer.code).toBe(3);
      expect(answer.details[1]).toMatchObject({ fieldViolations: [{ field: 'content-type' }] });
      await webStillServes(answer.socket);
    });

    it("a gRPC-web call with headers over Node's limit gets a gRPC-web answer, not a bare 431", async () => {
      const own = new Agent({ keepAlive: false });
      try {
        const answer = await rawGrpcWeb(own, httpPort(t), GET_USER, getUser, { 'x-padding': 'x'.repeat(20_000) });
        expect(answer.code).toBe(3);
        expect(answer.details[0]).toMatchObject({ '@type': ERROR_DETAIL, id: 'API-hdr2big' });
      } finally {
        own.destroy();
      }
      await webStillServes((await rawGrpcWeb(agent, httpPort(t), HEALTH, frame(0, Buffer.alloc(0)))).socket);
    });
  });

  it('a throw in the gRPC-web handling is INTERNAL with a correlation id, logged without header values', async () => {
    const makeUnaryRequest = jest.spyOn(rpcHttp, 'metadataOf').mockImplementationOnce(() => {
      throw new Error(`Metadata string value "Bearer ${t.adminToken}" contains illegal characters`);
    });
    try {
      const answer = await rawGrpcWeb(agent, httpPort(t), GET_USER, getUser, bearer(t.adminToken));
      expect(answer).toMatchObject({ code: 13, message: expect.stringMatching(/^Internal error, correlation id /) });
      const correlationId = (answer.details[1] as { metadata: { correlationId: string } }).metadata.correlationId;
      const line = t.logs.find((l) => l.includes(correlationId));
      expect(JSON.parse(line!)).toMatchObject({ msg: 'RPC over HTTP failed', kind: 'Error', path: GET_USER });
      await webStillServes(answer.socket);
    } finally {
      makeUnaryRequest.mockRestore();
    }
  });

  describe('echoed text is bounded (a 40 KB health service name)', () => {
    const LIMIT = 1024;
    const names: Array<[string, Buffer]> = [
      ['ASCII', Buffer.from('x'.repeat(40_000))],
      ['two-byte characters', Buffer.from('\u00e9'.repeat(20_000))],
      ['four-byte characters', Buffer.from('\u{1F600}'.repeat(10_000))],
    ];

    function expectBounded(answer: Answer, maxTrailerBytes: number) {
      expect(answer.code).toBe(5);
      expect(answer.message).toMatch(/^unknown service ".*…" \(HEALTH-3nkwn\)$/s);
      expect(Buffer.byteLength(answer.message)).toBeLessThanOrEqual(LIMIT + 20);
      // cut at a character boundary: no replacement character where a character was split
      expect(answer.message).not.toContain('\ufffd');
      expect(answer.trailerBytes).toBeLessThan(maxTrailerBytes);
    }

    it.each(names)('native gRPC (%s): NOT_FOUND with the name cut short, small trailers', async (name, bytes) => {
      const answer = await rawGrpc(session, HEALTH, frame(0, checkRequest(bytes)));
      expectBounded(answer, name === 'ASCII' ? 8192 : 16_384);
      await nativeStillServes();
    });

    it.each(names)('gRPC-web (%s): the same', async (name, bytes) => {
      const answer = await rawGrpcWeb(agent, httpPort(t), HEALTH, frame(0, checkRequest(bytes)));
      expectBounded(answer, name === 'ASCII' ? 8192 : 16_384);
      await webStillServes(answer.socket);
    });

    it('a grpc-js channel gets the answer, and its next call on the same channel too', async () => {
      const client = new Client(grpcAddress(t), credentials.createInsecure());
      const call = (bytes: Buffer) =>
        new Promise<{ code: number; details: string }>((resolve) => {
          client.makeUnaryRequest(
            HEALTH,
            (b: Buffer) => b,
            (b: Buffer) => b,
            bytes,
            new Metadata(),
            (error: ServiceError | null) => resolve({ code: error?.code ?? 0, details: error?.details ?? '' }),
          );
        });
      try {
        const answer = await call(checkRequest(names[0][1]));
        expect(answer.code).toBe(5);
        expect(answer.details.length).toBeLessThan(LIMIT + 20);
        await expect(call(Buffer.alloc(0))).resolves.toEqual({ code: 0, details: '' });
      } finally {
        client.close();
      }
    });

    it('an unknown method with a 40 KB name is UNIMPLEMENTED with the name cut short', async () => {
      const answer = await rawGrpc(session, `/zitadel.user.v2.UserService/${'X'.repeat(40_000)}`, getUser);
      expect(answer.code).toBe(12);
      expect(answer.message).toMatch(/^method \/zitadel\.user\.v2\.UserService\/X+… is not supported \(API-unimpl\)$/);
      expect(answer.trailerBytes).toBeLessThan(8192);
      await nativeStillServes();
    });
  });

  describe("grpc-js's own errors for a caller's mistake are not INTERNAL (native gRPC)", () => {
    const garbage = Buffer.from('this is not compressed data');
    const violation = (description: string) => ({
      '@type': BAD_REQUEST,
      fieldViolations: [{ field: 'body', description }],
    });
    const NOT_PROTOBUF = violation('the message is not a valid protobuf encoding of the request');
    // field 1 (a string) whose length varint never ends
    const randomBytes = Buffer.from([0x0a, 0xff, 0xff]);

    it.each([
      ['gzip', () => frame(1, garbage), 3, violation('the message does not decompress with its grpc-encoding')],
      ['deflate', () => frame(1, garbage), 3, violation('the message does not decompress with its grpc-encoding')],
      ['br', () => frame(1, garbage), 12, undefined],
    ])('a frame flagged compressed with grpc-encoding %s holding garbage', async (encoding, body, code, detail) => {
      const answer = await rawGrpc(session, GET_USER, body(), {
        ...bearer(t.adminToken),
        'grpc-encoding': encoding,
      });
      expect(answer.code).toBe(code);
      if (detail) expect(answer.details[1]).toEqual(detail);
      else expect(answer.details[0]).toMatchObject({ '@type': ERROR_DETAIL, id: 'API-unimpl' });
      await nativeStillServes();
    });

    it.each([
      ['a lone surrogate encoded (CESU-8)', [0xed, 0xa0, 0x80]],
      ['a byte that starts no UTF-8 sequence', [0x41, 0xff, 0x42]],
      ['a sequence cut short', [0x41, 0xe2, 0x82]],
    ])('a string field holding %s is INVALID_ARGUMENT, as Go decoders have it', async (_name, bytes) => {
      // GetUserByIDRequest.user_id and HealthCheckRequest.service are both field 1
      const body = frame(0, checkRequest(Buffer.from(bytes)));
      for (const path of [GET_USER, HEALTH]) {
        const answer = await rawGrpc(session, path, body, bearer(t.adminToken));
        expect(answer.code).toBe(3);
        expect(answer.details[1]).toEqual(NOT_PROTOBUF);
      }
      await nativeStillServes();
    });

    it.each([
      ['fixed32', [0x0d, 0xff, 0xff, 0xff, 0xff]],
      ['a varint', [0x08, 0x01]],
      ['fixed64', [0x09, 0, 0, 0, 0, 0, 0, 0, 0]],
    ])('a string field sent as %s is INVALID_ARGUMENT (protobufjs made garbage of it)', async (_wire, bytes) => {
      for (const path of [GET_USER, HEALTH]) {
        const answer = await rawGrpc(session, path, frame(0, Buffer.from(bytes)), bearer(t.adminToken));
        expect(answer.code).toBe(3);
        expect(answer.details[1]).toEqual(NOT_PROTOBUF);
      }
      await nativeStillServes();
    });

    it('a well-formed gzip frame is still accepted', async () => {
      const message = requestBytes('UserService', 'GetUserByID', { userId });
      for (const [encoding, compress] of [
        ['gzip', gzipSync],
        ['deflate', deflateSync],
      ] as const) {
        const answer = await rawGrpc(session, GET_USER, frame(1, compress(message)), {
          ...bearer(t.adminToken),
          'grpc-encoding': encoding,
        });
        expect(answer).toMatchObject({ code: 0, messages: [expect.any(Buffer)] });
      }
    });

    it.each(['v1', 'v1alpha'])('server reflection (%s) with bytes that are no request', async (version) => {
      const path = `/grpc.reflection.${version}.ServerReflection/ServerReflectionInfo`;
      const answer = await rawGrpc(session, path, frame(0, randomBytes));
      expect(answer.code).toBe(3);
      expect(answer.details[1]).toEqual(NOT_PROTOBUF);
      await nativeStillServes();
    });

    it.each([
      ['no message', Buffer.alloc(0)],
      ['two messages', Buffer.concat([frame(0, Buffer.alloc(0)), frame(0, Buffer.alloc(0))])],
    ])('a unary call with %s is INVALID_ARGUMENT', async (_name, body) => {
      const answer = await rawGrpc(session, HEALTH, body);
      expect(answer.code).toBe(3);
      expect(answer.details[1]).toEqual(violation('a unary call takes exactly one message'));
      await nativeStillServes();
    });
  });
});

describe('gRPC-web behind a trusted proxy (TRUSTED_PROXIES=loopback)', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startApp('sqlite', { TRUSTED_PROXIES: 'loopback' });
  }, 60_000);
  afterAll(async () => {
    await t?.close();
  }, 60_000);

  it('a client address the proxy forwarded is taken as REST takes it (no metadata hop), and the next call works', async () => {
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    try {
      const health = frame(0, Buffer.alloc(0));
      const bad = await rawGrpcWeb(agent, httpPort(t), HEALTH, health, { 'x-forwarded-for': 'caf\u00e9' });
      expect(bad).toMatchObject({ code: 0 });
      const next = await rawGrpcWeb(agent, httpPort(t), HEALTH, health, { 'x-forwarded-for': '203.0.113.7' });
      expect(next).toMatchObject({ code: 0, socket: bad.socket });
    } finally {
      agent.destroy();
    }
  });
});
