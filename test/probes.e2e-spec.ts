import { credentials, loadPackageDefinition, ServiceClientConstructor, ServiceError } from '@grpc/grpc-js';
import { loadSync } from '@grpc/proto-loader';
import type { Response } from 'supertest';
import { LOADER_OPTIONS, SERVICE_PROTOS } from '../src/common/grpc/proto-files';
import { READINESS_SHARED_MS } from '../src/common/health/readiness-checks';
import { SmsOutboxWorker } from '../src/phone/outbox/sms-outbox.worker';
import { appOnOwnPostgres, OwnPostgres, OwnRedis } from './support/own-servers';
import { ERROR_DETAIL, ERROR_INFO } from './support/wire';
import { management } from './support/prometheus';
import { DATABASES, freePort, startApp, TestApp } from './support/test-app';

const Health = (loadPackageDefinition(loadSync(SERVICE_PROTOS, LOADER_OPTIONS)) as any).grpc.health.v1
  .Health as ServiceClientConstructor;

/** grpc.health.v1.Health/Check on the app's gRPC port. */
function grpcHealth(t: TestApp): Promise<string> {
  const client = new Health(`127.0.0.1:${t.env.GRPC_PORT}`, credentials.createInsecure());
  return new Promise<string>((resolve, reject) =>
    client.Check({ service: '' }, (error: ServiceError | null, answer: { status: string }) =>
      error ? reject(error) : resolve(answer.status),
    ),
  ).finally(() => client.close());
}

const READINESS_PATHS = ['/readyz', '/healthz', '/debug/healthz', '/debug/ready'];

/** The 503 of a readiness probe: the error body, naming the failed checks, and each check's state. */
function expectNotReady(res: Response, id: string, failed: string, checks: Record<string, string>): void {
  expect(res.status).toBe(503);
  expect(res.body).toEqual({
    code: 14,
    message: `Not ready: ${failed} (${id})`,
    details: [
      { '@type': ERROR_DETAIL, id, message: `Not ready: ${failed}` },
      { '@type': ERROR_INFO, reason: 'NOT_READY', domain: 'phone-verify', metadata: checks },
    ],
  });
}

describe.each(DATABASES)('liveness and readiness probes (%s)', (db) => {
  let t: TestApp | undefined;

  beforeAll(async () => {
    t = await startApp(db, { METRICS_PORT: String(await freePort()) });
  }, 60_000);
  afterAll(async () => {
    await t?.close();
  }, 60_000);

  it('answers /livez with 200 on the public and the management port', async () => {
    expect((await t!.http().get('/livez').expect(200)).body).toEqual({ status: 'SERVING' });
    expect((await management(t!).get('/livez').expect(200)).body).toEqual({ status: 'SERVING' });
  });

  it.each(READINESS_PATHS)('answers %s with 200 and the checks while ready', async (path) => {
    expect((await t!.http().get(path).expect(200)).body).toEqual({
      status: 'SERVING',
      checks: { database: 'up', outbox: 'up' },
    });
  });

  it('answers /readyz on the management port with the same check', async () => {
    expect((await management(t!).get('/readyz').expect(200)).body).toEqual({
      status: 'SERVING',
      checks: { database: 'up', outbox: 'up' },
    });
  });

  // last: the worker stays stopped
  it('is not ready once the SMS outbox worker has stopped, on both ports; /livez stays 200', async () => {
    await t!.app.get(SmsOutboxWorker).onModuleDestroy();
    // the last readiness run answers for a second
    t!.clock.advance(READINESS_SHARED_MS);
    const checks = { database: 'up', outbox: 'down' };
    for (const path of READINESS_PATHS) expectNotReady(await t!.http().get(path), 'HEALTH-outbox', 'outbox', checks);
    expectNotReady(await management(t!).get('/readyz'), 'HEALTH-outbox', 'outbox', checks);
    expect(await grpcHealth(t!)).toBe('NOT_SERVING');
    await t!.http().get('/livez').expect(200);
    await management(t!).get('/livez').expect(200);
  });
});

describe.each(DATABASES)('readiness when its own redis-server stops (%s)', (db) => {
  let redis: OwnRedis | undefined;
  let t: TestApp | undefined;

  beforeAll(async () => {
    redis = await OwnRedis.start();
    t = await startApp(db, { REDIS_URL: redis.url, REDIS_TIMEOUT: '1s', METRICS_PORT: String(await freePort()) });
  }, 60_000);
  afterAll(async () => {
    await t?.close();
    await redis?.stop();
  }, 60_000);

  it('checks Redis while REDIS_URL is set, answers 503 naming redis once it is gone, and keeps /livez at 200', async () => {
    const up = { status: 'SERVING', checks: { database: 'up', redis: 'up', outbox: 'up' } };
    expect((await t!.http().get('/readyz').expect(200)).body).toEqual(up);
    expect((await management(t!).get('/readyz').expect(200)).body).toEqual(up);
    expect(await grpcHealth(t!)).toBe('SERVING');

    await redis!.stop();
    t!.clock.advance(READINESS_SHARED_MS);
    const checks = { database: 'up', redis: 'down', outbox: 'up' };
    expectNotReady(await t!.http().get('/readyz'), 'HEALTH-redis', 'redis', checks);
    expectNotReady(await t!.http().get('/debug/ready'), 'HEALTH-redis', 'redis', checks);
    expectNotReady(await management(t!).get('/readyz'), 'HEALTH-redis', 'redis', checks);
    expect(await grpcHealth(t!)).toBe('NOT_SERVING');
    await t!.http().get('/livez').expect(200);
    await management(t!).get('/livez').expect(200);
  }, 30_000);
});

describe('readiness when its own PostgreSQL stops', () => {
  let own: Awaited<ReturnType<typeof appOnOwnPostgres>> | undefined;
  let pg: OwnPostgres | undefined;
  let t: TestApp | undefined;

  beforeAll(async () => {
    own = await appOnOwnPostgres(
      async (db, env, shared) => startApp(db, { ...env, METRICS_PORT: String(await freePort()) }, shared),
      'public',
    );
    ({ pg, app: t } = own);
  }, 120_000);
  afterAll(async () => {
    await own?.close();
  }, 60_000);

  it('keeps /livez at 200 and answers /readyz 503 naming the database, on both ports', async () => {
    await t!.http().get('/readyz').expect(200);
    pg!.stop();
    t!.clock.advance(READINESS_SHARED_MS);
    const checks = { database: 'down', outbox: 'up' };
    expectNotReady(await t!.http().get('/readyz'), 'HEALTH-db', 'database', checks);
    expectNotReady(await management(t!).get('/readyz'), 'HEALTH-db', 'database', checks);
    await t!.http().get('/livez').expect(200);
    await management(t!).get('/livez').expect(200);
  }, 60_000);
});
