import { appOnOwnPostgres, OwnPostgres } from './support/own-servers';
import { DATABASES, startApp, TestApp } from './support/test-app';

describe.each(DATABASES)('liveness and readiness probes (%s)', (db) => {
  let t: TestApp | undefined;

  beforeAll(async () => {
    t = await startApp(db);
  }, 60_000);
  afterAll(async () => {
    await t?.close();
  }, 60_000);

  it('answers /livez with 200', async () => {
    expect((await t!.http().get('/livez').expect(200)).body).toEqual({ status: 'SERVING' });
  });

  it.each(['/readyz', '/healthz', '/debug/healthz', '/debug/ready'])(
    'answers %s with 200 while ready',
    async (path) => {
      expect((await t!.http().get(path).expect(200)).body).toEqual({ status: 'SERVING' });
    },
  );
});

describe('readiness when its own PostgreSQL stops', () => {
  let own: Awaited<ReturnType<typeof appOnOwnPostgres>> | undefined;
  let pg: OwnPostgres | undefined;
  let t: TestApp | undefined;

  beforeAll(async () => {
    own = await appOnOwnPostgres(startApp, 'public');
    ({ pg, app: t } = own);
  }, 120_000);
  afterAll(async () => {
    await own?.close();
  }, 60_000);

  it('keeps /livez at 200 and answers /readyz 503 naming the database', async () => {
    await t!.http().get('/readyz').expect(200);
    pg!.stop();
    const res = await t!.http().get('/readyz').expect(503);
    expect(res.body).toMatchObject({ code: 14, message: 'Database is not reachable (HEALTH-db)' });
    await t!.http().get('/livez').expect(200);
  }, 60_000);
});
