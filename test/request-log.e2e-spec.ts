import { connect } from 'node:net';
import type { AddressInfo } from 'node:net';
import { closeGrpcClients, grpcClients, grpcUnary } from './support/transports';
import { startApp, TestApp } from './support/test-app';

interface RequestLine {
  level: number;
  msg: string;
  req: { id: string; method: string; url: string };
  res: { statusCode: number };
  responseTime: number;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

function requestLines(t: TestApp): RequestLine[] {
  return t.logs.map((line) => JSON.parse(line) as RequestLine).filter((line) => line.req !== undefined);
}

/** Waits for the line the request log writes when the response is done (on the socket's close). */
async function lineOf(t: TestApp, match: (line: RequestLine) => boolean): Promise<RequestLine> {
  for (let i = 0; i < 100; i++) {
    const found = requestLines(t).filter(match);
    if (found.length > 0) {
      expect(found).toHaveLength(1);
      return found[0];
    }
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  throw new Error('no such request line');
}

/** A POST whose body never arrives: the client goes away while the body parser waits for it. */
async function abandonRequest(t: TestApp, requestId: string): Promise<void> {
  const { port } = t.app.getHttpServer().address() as AddressInfo;
  const socket = connect(port, '127.0.0.1');
  await new Promise<void>((resolve) => socket.once('connect', resolve));
  socket.write(
    `POST /v2/users/1/phone/verify HTTP/1.1\r\nHost: x\r\nx-request-id: ${requestId}\r\n` +
      'Authorization: Bearer nope\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{"verif',
  );
  await new Promise((resolve) => setTimeout(resolve, 50));
  socket.destroy();
}

describe('request log (one line per HTTP request)', () => {
  let t: TestApp;

  beforeAll(async () => {
    t = await startApp('sqlite');
  }, 60_000);
  afterAll(() => t?.close(), 60_000);

  it('has id, method, path (no query), status and time, and nothing of headers or body', async () => {
    await t
      .http()
      .get('/healthz?token=secret-in-query')
      .set('x-request-id', 'trace.abc-123_X')
      .set('cookie', 'session=cookie-secret')
      .expect(200);
    const line = await lineOf(t, (l) => l.req.id === 'trace.abc-123_X');
    expect(line).toEqual({
      level: 30,
      time: expect.any(Number),
      pid: process.pid,
      hostname: expect.any(String),
      msg: 'request completed',
      req: { id: 'trace.abc-123_X', method: 'GET', url: '/healthz' },
      res: { statusCode: 200 },
      responseTime: expect.any(Number),
    });
    expect(t.logs.join('\n')).not.toMatch(/secret-in-query|cookie-secret|Bearer/);
  });

  it('makes up a UUID when x-request-id is missing or not a plain token of at most 64 characters', async () => {
    await t.http().get('/healthz').set('x-request-id', 'has spaces and "quotes"').expect(200);
    await t.http().get('/healthz').set('x-request-id', 'x'.repeat(65)).expect(200);
    await t.http().get('/healthz').expect(200);
    const before = requestLines(t).length;
    await t.http().get('/healthz').set('x-request-id', 'after-three').expect(200);
    await lineOf(t, (l) => l.req.id === 'after-three');
    const lines = requestLines(t).slice(before - 3, before);
    expect(lines.map((l) => l.req.id)).toEqual([
      expect.stringMatching(UUID),
      expect.stringMatching(UUID),
      expect.stringMatching(UUID),
    ]);
    expect(new Set(lines.map((l) => l.req.id)).size).toBe(3);
  });

  it('logs client errors at info with their status, for routes that do not exist too', async () => {
    await t.http().get('/v2/users/123').set('x-request-id', 'no-token').expect(401);
    await t.http().get('/no/such/route').set('x-request-id', 'no-route').expect(404);
    expect(await lineOf(t, (l) => l.req.id === 'no-token')).toMatchObject({ level: 30, res: { statusCode: 401 } });
    expect(await lineOf(t, (l) => l.req.id === 'no-route')).toMatchObject({
      level: 30,
      req: { method: 'GET', url: '/no/such/route' },
      res: { statusCode: 404 },
    });
  });

  it('logs an answer on a connection the server closes after it (Connection: close) as completed', async () => {
    const { port } = t.app.getHttpServer().address() as AddressInfo;
    const socket = connect(port, '127.0.0.1');
    let answer = '';
    socket.on('data', (chunk: Buffer) => (answer += chunk.toString('utf8')));
    socket.write('GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\nx-request-id: closing\r\n\r\n');
    await new Promise((resolve) => socket.once('close', resolve));
    expect(answer).toMatch(/^HTTP\/1\.1 200 /);
    expect(await lineOf(t, (l) => l.req.id === 'closing')).toMatchObject({ level: 30, msg: 'request completed' });
  });

  it('logs a request the client gave up on before the answer as "request aborted" (warn)', async () => {
    await abandonRequest(t, 'gone-away');
    expect(await lineOf(t, (l) => l.req.id === 'gone-away')).toMatchObject({
      level: 40,
      msg: 'request aborted',
      req: { method: 'POST', url: '/v2/users/1/phone/verify' },
    });
  });
});

describe('request log at LOG_LEVEL=warn', () => {
  it('writes no line for answered requests, but one for an abandoned one', async () => {
    const t = await startApp('sqlite', { LOG_LEVEL: 'warn' });
    try {
      await t.http().get('/healthz').expect(200);
      await t.http().get('/v2/users/123').expect(401);
      await new Promise((resolve) => setTimeout(resolve, 50));
      expect(requestLines(t)).toEqual([]);
      await abandonRequest(t, 'gone-at-warn');
      expect(await lineOf(t, (l) => l.req.id === 'gone-at-warn')).toMatchObject({ level: 40, msg: 'request aborted' });
    } finally {
      await t.close();
    }
  }, 60_000);
});

describe('call log (one line per native gRPC call)', () => {
  let t: TestApp;

  beforeAll(async () => {
    t = await startApp('sqlite');
  }, 60_000);
  afterAll(() => t?.close(), 60_000);

  it('writes one line per native gRPC call: method, status name and time, nothing of metadata or message', async () => {
    const clients = grpcClients(t);
    try {
      await grpcUnary(clients, 'UserService', 'GetUserByID', { userId: 'no-such-user' }, t.adminToken).catch(
        () => undefined,
      );
      await grpcUnary(clients, 'UserService', 'GetUserByID', { userId: 'x' }, 'not-a-token').catch(() => undefined);
    } finally {
      closeGrpcClients(clients);
    }
    const lines = t.logs
      .map((line) => JSON.parse(line) as Record<string, any>)
      .filter((line) => line.grpc?.method === 'UserService/GetUserByID');
    expect(lines.map((l) => [l.msg, l.grpc.code, typeof l.responseTime])).toEqual([
      ['call completed', 'NOT_FOUND', 'number'],
      ['call completed', 'UNAUTHENTICATED', 'number'],
    ]);
    expect(
      Object.keys(lines[0])
        .filter((k) => !['level', 'time', 'pid', 'hostname', 'msg'].includes(k))
        .sort(),
    ).toEqual(['grpc', 'responseTime']);
    const text = JSON.stringify(lines);
    for (const secret of [t.adminToken, 'not-a-token', 'no-such-user']) expect(text).not.toContain(secret);
  });
});
