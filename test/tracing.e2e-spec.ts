import { createServer, Server } from 'node:http';
import { trace } from '@opentelemetry/api';
import { Tracing } from '../src/common/tracing/tracing';
import { createHuman, createOrg } from './support/factories';
import { FakeHttpServer } from './support/fake-http';
import { until } from './support/wait';
import { OwnRedis } from './support/own-servers';
import { outboxIdle } from './support/phone-api';
import { DATABASES, startApp, TestApp } from './support/test-app';
import { TRANSPORTS, TransportName, transportCaller } from './support/transports';

interface ExportedSpan {
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  name: string;
  kind: number;
  attributes: { key: string; value: Record<string, unknown> }[];
}

/** A local OTLP/HTTP receiver (JSON protocol): every body it was sent, and the spans in them. */
class Receiver {
  readonly bodies: string[] = [];
  private server?: Server;
  url = '';

  async start(): Promise<void> {
    this.server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (chunk: Buffer) => chunks.push(chunk));
      req.on('end', () => {
        if (req.method === 'POST' && req.url === '/v1/traces') this.bodies.push(Buffer.concat(chunks).toString('utf8'));
        res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
      });
    });
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    this.url = `http://127.0.0.1:${(this.server.address() as { port: number }).port}`;
  }

  spans(): ExportedSpan[] {
    return this.bodies.flatMap((body) =>
      (JSON.parse(body) as { resourceSpans: { scopeSpans: { spans: ExportedSpan[] }[] }[] }).resourceSpans.flatMap(
        (r) => r.scopeSpans.flatMap((s) => s.spans),
      ),
    );
  }

  async stop(): Promise<void> {
    await new Promise((resolve) => this.server?.close(resolve));
  }
}

function attributes(span: ExportedSpan): Record<string, unknown> {
  return Object.fromEntries(span.attributes.map((a) => [a.key, Object.values(a.value)[0]]));
}

const PHONE = '+41791234567';

describe.each(DATABASES)('tracing (%s)', (db) => {
  const receiver = new Receiver();
  let t: TestApp | undefined;

  beforeAll(async () => {
    await receiver.start();
    t = await startApp(db, {
      OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url,
      OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json',
      OTEL_SERVICE_NAME: 'phone-verify-test',
    });
  }, 60_000);

  afterAll(async () => {
    await t?.close();
    await receiver.stop();
  }, 60_000);

  it.each(TRANSPORTS)(
    'exports the spans of one VerifyPhone over %s, without code, token or number',
    async (transport: TransportName) => {
      const app = t!;
      const orgId = await createOrg(app);
      const { userId, phoneCode } = await createHuman(app, { orgId, phone: PHONE });
      const caller = transportCaller(app, transport);
      const before = receiver.bodies.length;
      const logsBefore = app.logs.length;
      try {
        const result = await caller.call(
          'UserService',
          'VerifyPhone',
          { userId, verificationCode: phoneCode! },
          app.adminToken,
        );
        expect(result.ok).toBe(true);
      } finally {
        caller.close();
      }
      await app.app.get(Tracing).flush();
      const payload = receiver.bodies.slice(before).join('\n');
      const spans = receiver.spans().filter((span) => payload.includes(span.spanId));

      const server =
        transport === 'rest'
          ? spans.find((s) => attributes(s)['http.route'] === '/v2/users/:userId/phone/verify')
          : spans.find((s) => attributes(s)['rpc.method'] === 'VerifyPhone');
      expect(server).toBeDefined();
      expect(server!.kind).toBe(2); // SERVER in OTLP's numbering
      if (transport === 'rest') {
        expect(attributes(server!)).toMatchObject({ 'http.request.method': 'POST', 'http.response.status_code': 200 });
      } else {
        expect(attributes(server!)).toMatchObject({
          'rpc.system': transport === 'connect' ? 'connect_rpc' : 'grpc',
          'rpc.service': 'zitadel.user.v2.UserService',
          'rpc.grpc.status_code': 0,
        });
      }
      const statements = spans.filter(
        (s) =>
          s.traceId === server!.traceId && attributes(s)['db.system'] === (db === 'postgres' ? 'postgresql' : 'sqlite'),
      );
      expect(statements.length).toBeGreaterThan(0);
      expect(statements.every((s) => typeof attributes(s)['db.operation.name'] === 'string')).toBe(true);
      // on PostgreSQL the transaction's own statements are spans of the request too (on SQLite a
      // commit is shared by the requests of a group and belongs to none of them)
      if (db === 'postgres') {
        const operations = statements.map((s) => attributes(s)['db.operation.name']);
        expect(operations).toEqual(expect.arrayContaining(['BEGIN', 'SELECT', 'UPDATE', 'COMMIT']));
      }

      // REST and gRPC-web are HTTP requests with a line of their own; a native gRPC call has its call line
      const lines = app.logs.slice(logsBefore).map((l) => JSON.parse(l) as Record<string, any>);
      if (transport !== 'grpc') {
        const line = lines.find((l) => l.req?.method === 'POST' && l.trace_id);
        expect(line?.trace_id).toBe(server!.traceId);
      } else {
        const line = lines.find((l) => l.grpc?.method === 'UserService/VerifyPhone');
        expect(line).toMatchObject({ msg: 'call completed', grpc: { code: 'OK' }, trace_id: server!.traceId });
        expect(line?.span_id).toBe(server!.spanId);
      }
      if (transport === 'grpc-web' || transport === 'connect') {
        // run in process: the browser's HTTP request is the call's server span
        expect(attributes(server!)).toMatchObject({
          'http.route': '/zitadel.user.v2.UserService/VerifyPhone',
          'http.request.method': 'POST',
          'http.response.status_code': 200,
        });
      }

      for (const secret of [phoneCode!, app.adminToken, PHONE, PHONE.slice(1), userId]) {
        expect(payload).not.toContain(secret);
      }
    },
    60_000,
  );
});

describe('tracing of background work and dependencies', () => {
  const receiver = new Receiver();
  const webhook = new FakeHttpServer();
  let redis: OwnRedis | undefined;
  let t: TestApp | undefined;

  beforeAll(async () => {
    await receiver.start();
    await webhook.start();
    redis = await OwnRedis.start();
    t = await startApp('sqlite', {
      OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: `${receiver.url}/v1/traces`,
      OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json',
      REDIS_URL: redis.url,
      SMS_PROVIDER: 'webhook',
      // a secret in the path and the query: neither may reach a span
      SMS_WEBHOOK_URL: `${webhook.url}/hook-secret-path?token=query-secret`,
    });
  }, 60_000);

  afterAll(async () => {
    await t?.close();
    await redis?.stop();
    await webhook.close();
    await receiver.stop();
  }, 60_000);

  it('traces an SMS delivery with its provider call, and the Redis limit commands of the request', async () => {
    const app = t!;
    const { userId } = await createHuman(app, { phone: PHONE, phoneMode: 'sendCode' });
    const [request] = await until('the webhook request', () =>
      webhook.requests.filter((r) => r.json.userId === userId),
    );
    await outboxIdle(app);
    await app.app.get(Tracing).flush();
    const spans = receiver.spans();

    const delivery = spans.find((s) => s.name === 'SMS delivery');
    expect(delivery).toBeDefined();
    const post = spans.find((s) => attributes(s)['sms.provider'] === 'webhook');
    expect(post).toMatchObject({ traceId: delivery!.traceId, kind: 3 }); // CLIENT
    expect(attributes(post!)).toMatchObject({ 'http.request.method': 'POST', 'http.response.status_code': 200 });

    const creation = spans.find((s) => attributes(s)['http.route'] === '/v2/users/human');
    expect(creation).toBeDefined();
    const redisSpans = spans.filter((s) => attributes(s)['db.system'] === 'redis');
    expect(redisSpans.some((s) => s.traceId === creation!.traceId)).toBe(true);

    const payload = receiver.bodies.join('\n');
    for (const secret of [
      request.json.code as string,
      PHONE,
      PHONE.slice(1),
      userId,
      'hook-secret-path',
      'query-secret',
    ]) {
      expect(payload).not.toContain(secret);
    }
  }, 60_000);
});

describe('tracing on close', () => {
  it('sends the spans still batched when the app closes', async () => {
    const receiver = new Receiver();
    await receiver.start();
    const t = await startApp('sqlite', {
      OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url,
      OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json',
    });
    try {
      await t.http().get('/healthz').expect(200);
    } finally {
      await t.close();
      await receiver.stop();
    }
    expect(receiver.spans().some((s) => s.name === 'GET /healthz')).toBe(true);
  }, 60_000);
});

describe('tracing off', () => {
  it('exports nothing with OTEL_TRACES_SAMPLER=always_off', async () => {
    const receiver = new Receiver();
    await receiver.start();
    const t = await startApp('sqlite', {
      OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url,
      OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json',
      OTEL_TRACES_SAMPLER: 'always_off',
    });
    try {
      await createHuman(t, { phone: PHONE });
      await t.app.get(Tracing).flush();
      expect(t.app.get(Tracing).enabled).toBe(true);
      expect(receiver.bodies).toEqual([]);
    } finally {
      await t.close();
      await receiver.stop();
    }
  }, 60_000);

  it('loads no provider and exports nothing when no OTLP endpoint is set', async () => {
    const receiver = new Receiver();
    await receiver.start();
    const t = await startApp('sqlite', { OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json', OTEL_SERVICE_NAME: 'nothing' });
    try {
      const { userId, phoneCode } = await createHuman(t, { phone: PHONE });
      await t
        .http()
        .post(`/v2/users/${userId}/phone/verify`)
        .set({ Authorization: `Bearer ${t.adminToken}` })
        .send({ verificationCode: phoneCode })
        .expect(200);
      expect(t.app.get(Tracing).enabled).toBe(false);
      // nothing registered globally: the API's provider is still its no-op proxy without a delegate
      expect((trace.getTracerProvider() as unknown as { getDelegate(): object }).getDelegate().constructor.name).toBe(
        'NoopTracerProvider',
      );
      expect(t.logs.some((line) => line.includes('trace_id'))).toBe(false);
      expect(receiver.bodies).toEqual([]);
    } finally {
      await t.close();
      await receiver.stop();
    }
  }, 60_000);
});
