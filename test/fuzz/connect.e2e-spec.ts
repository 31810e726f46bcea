import fc from 'fast-check';
import { createHuman } from '../support/factories';
import { DATABASES, startApp, TestApp } from '../support/test-app';
import { httpPort } from '../support/transports';
import {
  checkConnectAnswer,
  checkRestAnswer,
  collectSecrets,
  expectConnectionsBackTo,
  openConnections,
  expectStillServingAndNoLeaks,
  Fixtures,
  fixtures,
} from './support/checks';
import {
  CONNECT_METHODS,
  connectContentTypeArb,
  connectHeaderArb,
  ConnectMethod,
  ConnectRequest,
  encode,
  encodingArb,
  jsonBodyArb,
  protoBodyArb,
  sendConnect,
} from './support/connect-requests';
import { FUZZ_TIMEOUT, fuzz } from './support/fuzz';
import { authArb } from './support/routes';

/**
 * Hostile Connect calls (unary; JSON and binary; HTTP/1.1 and HTTP/2) to every method on the HTTP
 * port: never a fault of ours, never a hang, every error Connect's error JSON with its code's status.
 */
/** (in a counterexample, a method is its path) */
const byPath = (path: string) => CONNECT_METHODS.find((m) => m.path === path)!;

describe.each(DATABASES)('fuzz: Connect (%s)', (db) => {
  let t: TestApp;
  let f: Fixtures;

  beforeAll(async () => {
    t = await startApp(db);
    f = await fixtures(t);
  }, 60_000);
  afterAll(() => t?.close(), 60_000);

  /** Sends the call and checks its answer; a 200's tokens and codes join the secrets. */
  async function check(method: ConnectMethod, request: ConnectRequest): Promise<void> {
    const answer = await sendConnect(httpPort(t), request);
    if (!answer) return;
    const headerBytes = request.headers.reduce((sum, [name, value]) => sum + name.length + value.length + 4, 0);
    if (answer.status === 431 && headerBytes > 16 * 1024) {
      // more than Node's HTTP parser reads: refused before any route, in REST's error body
      return checkRestAnswer(answer.status, answer.body.toString('utf8'), t.logs);
    }
    const timeout = request.headers.find(([name]) => name.toLowerCase() === 'connect-timeout-ms')?.[1];
    const body = checkConnectAnswer(answer, {
      output: method.output,
      // no call here takes 10 s: a longer timeout never explains deadline_exceeded
      deadline: timeout !== undefined && /^\s*\d{1,10}\s*$/.test(timeout) && Number(timeout) < 10_000,
      head: request.verb === 'HEAD',
    });
    if (answer.status === 200) collectSecrets(f, body);
  }

  it(
    'bodies: mutated and random JSON, wrong types, unknown fields, huge numbers, bad UTF-8, random protobuf, gzip gone wrong',
    async () => {
      const request = fc.constantFrom(...CONNECT_METHODS.map((m) => m.path)).chain((path) => {
        const method = byPath(path);
        const templates = method.templates(f.userId, f.orgId);
        return fc.record({
          path: fc.constant(path),
          proto: fc.boolean(),
          json: jsonBodyArb(templates),
          binary: protoBodyArb(method, templates),
          // now and then the other codec's bytes
          swapped: fc.oneof({ weight: 9, arbitrary: fc.constant(false) }, { weight: 1, arbitrary: fc.constant(true) }),
          encoding: encodingArb,
          cut: fc.nat(),
          auth: authArb(t.adminToken, f.roleless.token),
          http2: fc.oneof({ weight: 3, arbitrary: fc.constant(false) }, { weight: 1, arbitrary: fc.constant(true) }),
        });
      });
      const before = await openConnections(t);
      await fuzz(
        fc.asyncProperty(request, async ({ path, proto, json, binary, swapped, encoding, cut, auth, http2 }) => {
          const { body, contentEncoding } = encode(proto !== swapped ? binary : json, encoding, cut);
          const headers: Array<[string, string]> = [['Content-Type', proto ? 'application/proto' : 'application/json']];
          if (contentEncoding) headers.push(['Content-Encoding', contentEncoding]);
          if (auth !== undefined) headers.push(['Authorization', auth]);
          await check(byPath(path), { verb: 'POST', path, headers, body, http2 });
        }),
        800,
      );
      // every call's connection closed on the server's side too
      await expectConnectionsBackTo(t, before);
    },
    FUZZ_TIMEOUT,
  );

  it(
    'headers and methods: content types, encodings, timeouts, protocol versions, tokens, request ids, GET, PUT and others',
    async () => {
      const request = fc.constantFrom(...CONNECT_METHODS.map((m) => m.path)).chain((path) =>
        fc.record({
          path: fc.constant(path),
          verb: fc.oneof(
            { weight: 8, arbitrary: fc.constant('POST') },
            {
              weight: 2,
              arbitrary: fc.constantFrom('GET', 'PUT', 'DELETE', 'PATCH', 'HEAD', 'OPTIONS', 'TRACE'),
            },
          ),
          contentType: fc.option(connectContentTypeArb, { nil: undefined, freq: 10 }),
          json: jsonBodyArb(byPath(path).templates(f.userId, f.orgId)),
          encoding: fc.oneof(
            { weight: 6, arbitrary: fc.constant(undefined) },
            { weight: 1, arbitrary: fc.constantFrom('gzip', 'GZIP', 'identity', 'br', 'deflate', 'gzip, gzip', '') },
          ),
          auth: authArb(t.adminToken, f.roleless.token),
          headers: fc.array(connectHeaderArb, { maxLength: 5 }),
          http2: fc.oneof({ weight: 3, arbitrary: fc.constant(false) }, { weight: 1, arbitrary: fc.constant(true) }),
        }),
      );
      const before = await openConnections(t);
      await fuzz(
        fc.asyncProperty(request, async ({ path, verb, contentType, json, encoding, auth, headers, http2 }) => {
          const all: Array<[string, string]> = [...headers];
          if (contentType !== undefined) all.push(['Content-Type', contentType]);
          const { body } = encode(json, encoding?.toLowerCase() === 'gzip' ? 'gzip' : 'identity', 0);
          if (encoding !== undefined) all.push(['Content-Encoding', encoding]);
          if (auth !== undefined) all.push(['Authorization', auth]);
          // over HTTP/2, a gRPC content type makes the connection gRPC's (the gRPC fuzz has those)
          const grpc = /^application\/grpc/i.test(contentType ?? '');
          await check(byPath(path), { verb, path, headers: all, body, http2: http2 && !grpc });
        }),
        800,
      );
      // every call's connection closed on the server's side too
      await expectConnectionsBackTo(t, before);
    },
    FUZZ_TIMEOUT,
  );

  it('regression: a deadline beyond what a timer holds (2^31 ms, about 25 days) is no deadline passed at once', async () => {
    for (const timeout of ['2147483648', '9999999999']) {
      const answer = await sendConnect(httpPort(t), {
        verb: 'POST',
        path: '/zitadel.user.v2.UserService/GetUserByID',
        headers: [
          ['Content-Type', 'application/json'],
          ['Authorization', `Bearer ${t.adminToken}`],
          ['Connect-Timeout-Ms', timeout],
        ],
        body: Buffer.from(JSON.stringify({ userId: f.userId })),
        http2: false,
      });
      expect({ timeout, status: answer?.status }).toEqual({ timeout, status: 200 });
    }
  });

  it('regression: HTTP/2 calls answered before their body was read leave no stream, session or connection open', async () => {
    const before = await openConnections(t);
    const body = Buffer.alloc(200_000, 0x20);
    const calls: Array<[string, string]> = [
      ['PUT', 'application/json'],
      ['OPTIONS', 'application/json'],
      ['POST', 'text/plain'],
      ['POST', 'application/json'],
    ];
    for (const [verb, type] of calls) {
      const answer = await sendConnect(httpPort(t), {
        verb,
        path: '/grpc.health.v1.Health/Check',
        headers: [['Content-Type', type]],
        body,
        http2: true,
      });
      expect(answer?.status).toBeGreaterThanOrEqual(400);
      checkConnectAnswer(answer!, { head: false });
    }
    await expectConnectionsBackTo(t, before);
  });

  it('afterwards: SetPhone + VerifyPhone work on every transport and on Connect, and the log holds no token or code', async () => {
    const setPhone = CONNECT_METHODS.find((m) => m.path.endsWith('/SetPhone'))!;
    const verifyPhone = CONNECT_METHODS.find((m) => m.path.endsWith('/VerifyPhone'))!;
    const call = async (method: ConnectMethod, body: object) => {
      const answer = await sendConnect(httpPort(t), {
        verb: 'POST',
        path: method.path,
        headers: [
          ['Content-Type', 'application/json'],
          ['Authorization', `Bearer ${t.adminToken}`],
        ],
        body: Buffer.from(JSON.stringify(body)),
        http2: false,
      });
      expect(answer?.status).toBe(200);
      return JSON.parse(answer!.body.toString('utf8')) as Record<string, string>;
    };
    const { userId } = await createHuman(t, { orgId: f.orgId });
    const { verificationCode } = await call(setPhone, { userId, phone: '+41791234567', returnCode: {} });
    expect(verificationCode).toMatch(/^\d{6}$/);
    f.secrets.add(verificationCode);
    await call(verifyPhone, { userId, verificationCode });
    await expectStillServingAndNoLeaks(t, f);
  }, 60_000);
});
