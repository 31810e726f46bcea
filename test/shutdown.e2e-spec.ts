import { credentials, loadPackageDefinition, Metadata, ServiceClientConstructor, ServiceError } from '@grpc/grpc-js';
import type { ClientReadableStream } from '@grpc/grpc-js';
import { loadSync } from '@grpc/proto-loader';
import { readFileSync } from 'node:fs';
import { Agent, request } from 'node:http';
import { connect, Socket } from 'node:net';
import { join } from 'node:path';
import { LOADER_OPTIONS, SERVICE_PROTOS } from '../src/common/grpc/proto-files';
import { sleep, until } from './support/wait';
import { buildIfNeeded, removeDir, ROOT, serverEnv, ServerProcess } from './support/server-process';
import { freePort } from './support/test-app';

/**
 * The built server as its own process, stopped with SIGTERM while clients keep sending on
 * keep-alive connections (REST) and long-lived channels (gRPC). Assertions are bounds with margin:
 * nothing here depends on how fast the machine is.
 */

const packages = loadPackageDefinition(loadSync(SERVICE_PROTOS, LOADER_OPTIONS)) as any;
const UserService = packages.zitadel.user.v2.UserService as ServiceClientConstructor;
const Health = packages.grpc.health.v1.Health as ServiceClientConstructor;

interface RestCall {
  startedAt: number;
  /** when the request was fully written to the socket */
  writtenAt?: number;
  reused?: boolean;
  endedAt?: number;
  status?: number;
  connection?: string;
  error?: string;
}

interface HttpAnswer {
  status: number;
  connection?: string;
  body: string;
}

function get(port: number, agent: Agent, path: string, token: string, call: RestCall): Promise<void> {
  return new Promise((resolve) => {
    const req = request(
      { host: '127.0.0.1', port, path, agent, headers: { Authorization: `Bearer ${token}` } },
      (res) => {
        res.resume();
        res.on('end', () => {
          call.endedAt = Date.now();
          call.status = res.statusCode;
          call.connection = res.headers.connection;
          resolve();
        });
        res.on('error', (error: NodeJS.ErrnoException) => {
          call.endedAt = Date.now();
          call.error = error.code ?? error.message;
          resolve();
        });
      },
    );
    req.on('socket', (socket) => socket.setNoDelay(true));
    req.on('finish', () => {
      call.writtenAt = Date.now();
      call.reused = req.reusedSocket;
    });
    req.on('error', (error: NodeJS.ErrnoException) => {
      call.endedAt = Date.now();
      call.error = error.code ?? error.message;
      resolve();
    });
    req.end();
  });
}

function send(port: number, method: string, path: string, token: string, body?: object, agent?: Agent) {
  return new Promise<HttpAnswer>((resolve, reject) => {
    const payload = body ? JSON.stringify(body) : undefined;
    const req = request(
      {
        host: '127.0.0.1',
        port,
        method,
        path,
        agent,
        headers: { Authorization: `Bearer ${token}`, ...(payload ? { 'Content-Type': 'application/json' } : {}) },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () =>
          resolve({
            status: res.statusCode ?? 0,
            connection: res.headers.connection,
            body: Buffer.concat(chunks).toString('utf8'),
          }),
        );
      },
    );
    req.on('error', reject);
    req.end(payload);
  });
}

interface GrpcCall {
  startedAt: number;
  endedAt?: number;
  code?: number;
}

function grpcGet(client: any, userId: string, token: string, call: GrpcCall): Promise<void> {
  const metadata = new Metadata();
  metadata.set('authorization', `Bearer ${token}`);
  return new Promise((resolve) => {
    client.GetUserByID({ userId }, metadata, { deadline: Date.now() + 10_000 }, (error: ServiceError | null) => {
      call.endedAt = Date.now();
      call.code = error ? error.code : 0;
      resolve();
    });
  });
}

/** The promise's value, or undefined after `ms` (the timer does not outlive the answer). */
async function within<T>(promise: Promise<T>, ms: number): Promise<T | undefined> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<undefined>((resolve) => {
    timer = setTimeout(() => resolve(undefined), ms);
  });
  try {
    return await Promise.race([promise, late]);
  } finally {
    clearTimeout(timer);
  }
}

describe('SIGTERM to the server', () => {
  const started: ServerProcess[] = [];
  const dirs: string[] = [];
  const closers: Array<() => void> = [];

  beforeAll(() => buildIfNeeded(), 240_000);
  afterAll(async () => {
    for (const close of closers) close();
    for (const server of started) await server.kill();
    for (const dir of dirs) removeDir(dir);
  });

  async function startServer(extra: Record<string, string>) {
    const settings = await serverEnv(extra);
    dirs.push(settings.dir);
    const server = new ServerProcess(process.execPath, [join(ROOT, 'dist/src/main.js')], settings.env);
    started.push(server);
    await server.record('the listening line', (r) => /^listening on /.test(r.msg ?? ''));
    const token = readFileSync(settings.env.FIRST_INSTANCE_PAT_PATH, 'utf8').trim();
    return { server, token, port: settings.port, grpcAddress: `127.0.0.1:${settings.grpcPort}` };
  }

  const shutdownLines = (server: ServerProcess) =>
    server.records().filter((r) => r.msg === 'shutdown started' || r.msg === 'shutdown complete');

  it('under keep-alive load: not ready at once, answers what it read, Connection: close, GOAWAY, exits 0 in time', async () => {
    const TIMEOUT_MS = 6_000;
    const { server, token, port, grpcAddress } = await startServer({ SHUTDOWN_TIMEOUT: '6s' });
    const created = await send(port, 'POST', '/v2/users/human', token, {
      profile: { givenName: 'Minnie', familyName: 'Mouse' },
      email: { email: 'minnie@example.com', isVerified: true },
    });
    expect(created.status).toBe(200);
    const userId = JSON.parse(created.body).userId as string;

    // the load: 8 REST clients on 8 keep-alive connections, 4 gRPC clients on channels of their own
    const restAgent = new Agent({ keepAlive: true, maxSockets: 8 });
    const probeAgent = new Agent({ keepAlive: true, maxSockets: 1 });
    closers.push(
      () => restAgent.destroy(),
      () => probeAgent.destroy(),
    );
    const grpcClients = Array.from(
      { length: 4 },
      () => new UserService(grpcAddress, credentials.createInsecure(), { 'grpc.use_local_subchannel_pool': 1 }),
    );
    const healthClient = new Health(grpcAddress, credentials.createInsecure(), { 'grpc.use_local_subchannel_pool': 1 });
    closers.push(() => [...grpcClients, healthClient].forEach((c) => c.close()));

    const rest: RestCall[] = [];
    const grpc: GrpcCall[] = [];
    let stop = false;
    const hardStop = Date.now() + 60_000;
    const restLoops = Array.from({ length: 8 }, async () => {
      while (!stop && Date.now() < hardStop) {
        const call: RestCall = { startedAt: Date.now() };
        rest.push(call);
        await get(port, restAgent, `/v2/users/${userId}`, token, call);
        if (call.error) await sleep(20); // refused: the clients keep trying, as clients do
      }
    });
    const grpcLoops = grpcClients.map(async (client) => {
      while (!stop && Date.now() < hardStop) {
        const call: GrpcCall = { startedAt: Date.now() };
        grpc.push(call);
        await grpcGet(client, userId, token, call);
        if (call.code !== 0) await sleep(20);
      }
    });
    const watched: Array<{ status: string; at: number }> = [];
    const watch = healthClient.Watch({ service: '' }) as ClientReadableStream<{ status: string }>;
    watch.on('data', (m: { status: string }) => watched.push({ status: m.status, at: Date.now() }));
    watch.on('error', () => undefined);

    try {
      // the probe's connection is open and idle when the signal comes
      const before = await send(port, 'GET', '/healthz', token, undefined, probeAgent);
      expect([before.status, before.connection]).toEqual([200, 'keep-alive']);
      await until(
        'load on every connection',
        () => rest.filter((c) => c.status === 200).length >= 40 && grpc.filter((c) => c.code === 0).length >= 20,
        30_000,
      );
      await until('the Watch to report SERVING', () => watched.some((w) => w.status === 'SERVING'));

      const signalledAt = Date.now();
      server.signal('SIGTERM');

      // readiness, asked on the idle keep-alive connection: 503 (and that connection is not reset)
      let probe: HttpAnswer | undefined;
      for (let i = 0; i < 100 && (!probe || probe.status === 200); i++) {
        probe = await send(port, 'GET', '/healthz', token, undefined, probeAgent);
        if (probe.status === 200) await sleep(10);
      }
      const probedAt = Date.now();
      expect(probe!.status).toBe(503);
      expect(probe!.connection).toBe('close');
      expect(JSON.parse(probe!.body)).toMatchObject({ code: 14 });
      expect(probedAt - signalledAt).toBeLessThan(3_000);

      const exit = await within(server.exited, TIMEOUT_MS + 10_000);
      const exitedAt = server.exitedAt ?? Date.now();
      await sleep(300); // the clients go on sending after the exit
      stop = true;
      await Promise.all([...restLoops, ...grpcLoops]);

      // the process ended by itself, cleanly, within SHUTDOWN_TIMEOUT (with margin for a busy machine)
      expect(exit).toEqual({ code: 0, signal: null });
      expect(exitedAt - signalledAt).toBeLessThan(TIMEOUT_MS + 3_000);
      const lines = shutdownLines(server);
      expect(lines.map((r) => r.msg)).toEqual(['shutdown started', 'shutdown complete']);
      expect(lines[0]).toMatchObject({ signal: 'SIGTERM', timeoutMs: TIMEOUT_MS });
      expect(lines[1]).toMatchObject({ exitCode: 0 });

      // the clients were still sending when it went
      expect(rest.filter((c) => c.startedAt > exitedAt).length).toBeGreaterThan(0);

      // REST: a request fully written before the signal was answered, never reset
      const writtenBefore = rest.filter((c) => c.writtenAt !== undefined && c.writtenAt < signalledAt);
      expect(writtenBefore.filter((c) => c.status === undefined)).toEqual([]);
      // later ones were answered or, on a new connection, refused: no reset, no hang-up
      expect(rest.filter((c) => c.endedAt === undefined)).toEqual([]);
      expect(rest.filter((c) => c.error !== undefined && c.error !== 'ECONNREFUSED')).toEqual([]);
      expect(rest.filter((c) => c.error === 'ECONNREFUSED' && c.reused)).toEqual([]);
      expect(rest.filter((c) => c.status !== undefined && c.status !== 200)).toEqual([]);
      // answers after the signal tell the client to close (all of them, once the server has seen it)
      const answeredAfter = rest.filter((c) => c.status !== undefined && c.endedAt! > signalledAt);
      expect(answeredAfter.some((c) => c.connection === 'close')).toBe(true);
      expect(answeredAfter.filter((c) => c.endedAt! > signalledAt + 2_000 && c.connection !== 'close')).toEqual([]);

      // gRPC: every call got an answer; what was not served was refused as UNAVAILABLE (retryable)
      expect(grpc.filter((c) => c.endedAt === undefined)).toEqual([]);
      expect(grpc.filter((c) => c.code !== 0 && c.code !== 14)).toEqual([]);
      expect(grpc.filter((c) => c.startedAt < signalledAt - 1_000 && c.code !== 0)).toEqual([]);
      // the Watch heard NOT_SERVING soon after the signal
      const notServing = watched.find((w) => w.status === 'NOT_SERVING');
      expect(notServing).toBeDefined();
      expect(notServing!.at - signalledAt).toBeLessThan(3_000);
    } finally {
      stop = true;
      watch.cancel();
      await Promise.all([...restLoops, ...grpcLoops]);
    }
  }, 120_000);

  it('cuts a client that never finishes its request and still exits 0 within SHUTDOWN_TIMEOUT; the management port serves until the drain is over', async () => {
    const TIMEOUT_MS = 3_000;
    const metricsPort = await freePort();
    const { server, token, port } = await startServer({ SHUTDOWN_TIMEOUT: '3s', METRICS_PORT: String(metricsPort) });
    expect(
      server
        .records()
        .some((r) => r.msg === `management listener on http://127.0.0.1:${metricsPort} (/metrics, /livez, /readyz)`),
    ).toBe(true);
    expect((await send(metricsPort, 'GET', '/readyz', '')).status).toBe(200);
    const socket: Socket = connect(port, '127.0.0.1');
    closers.push(() => socket.destroy());
    socket.on('error', () => undefined);
    await new Promise((resolve) => socket.once('connect', resolve));
    // headers and one byte of a 1000-byte body: a request that stays in flight
    socket.write(
      `POST /v2/users/human HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer ${token}\r\n` +
        'Content-Type: application/json\r\nContent-Length: 1000\r\n\r\n{',
    );
    await sleep(200);

    const signalledAt = Date.now();
    server.signal('SIGTERM');
    // the stuck client holds the public drain until the cut: meanwhile the management port is
    // not ready (HEALTH-stop) and still scraped
    let ready: HttpAnswer | undefined;
    for (let i = 0; i < 100 && (!ready || ready.status === 200); i++) {
      ready = await send(metricsPort, 'GET', '/readyz', '');
      if (ready.status === 200) await sleep(10);
    }
    expect([ready!.status, JSON.parse(ready!.body).message]).toEqual([
      503,
      'The service is shutting down (HEALTH-stop)',
    ]);
    const scraped = await send(metricsPort, 'GET', '/metrics', '');
    expect(scraped.status).toBe(200);
    expect(scraped.body).toMatch(/^process_cpu_user_seconds_total /m);
    const exit = await within(server.exited, TIMEOUT_MS + 10_000);
    expect(exit).toEqual({ code: 0, signal: null });
    expect(server.exitedAt! - signalledAt).toBeLessThan(TIMEOUT_MS + 2_000);
    await expect(send(metricsPort, 'GET', '/livez', '')).rejects.toMatchObject({ code: 'ECONNREFUSED' });
    const lines = shutdownLines(server);
    expect(lines.map((r) => r.msg)).toEqual(['shutdown started', 'shutdown complete']);
    expect(lines[1]).toMatchObject({ exitCode: 0, connectionsCut: 1 });
  }, 60_000);
});
