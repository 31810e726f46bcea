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
