import { DatabaseHealth } from '../src/common/health/database-health';
import { READINESS_SHARED_MS } from '../src/common/health/readiness-checks';
import { ManagementServer } from '../src/common/metrics/management-server';
import { management } from './support/prometheus';
import { bearer, freePort, startApp, TestApp } from './support/test-app';

/** Issue 26, finding 9: public routes have a budget of their own, probes share one readiness run a second, the management port is loopback. */
describe('public routes: their own throttle', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startApp('sqlite', { THROTTLE_LIMIT: '3', THROTTLE_PUBLIC_LIMIT: '10', THROTTLE_WINDOW: '1h' });
  }, 60_000);
  afterAll(() => t?.close(), 60_000);

  it('counts probes and receipts in a bucket of their own, generous but bounded, and apart from the API', async () => {
    // the API budget (3) is spent; probes still answer
    for (let i = 0; i < 3; i++) await t.http().get('/v2/users/1').set(bearer(t.adminToken)).expect(404);
    await t.http().get('/v2/users/1').set(bearer(t.adminToken)).expect(429);
    for (let i = 0; i < 4; i++) await t.http().get('/livez').expect(200);
    for (let i = 0; i < 3; i++) await t.http().get('/readyz').expect(200);
    // receipts are off here (404), but they count in the same public bucket
    for (let i = 0; i < 3; i++) await t.http().post('/v2/sms/receipts/webhook').send({}).expect(404);
    // the 11th public request of the window is refused like any other throttled one
    const refused = await t.http().get('/livez').expect(429);
    expect(refused.body.details[0]).toMatchObject({ id: 'API-thr0ttle' });
    expect(refused.headers['retry-after']).toMatch(/^\d+$/);
    await t.http().post('/v2/sms/receipts/webhook').send({}).expect(429);
  });
});

describe('readiness: one run of the checks a second, however many probes', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startApp('sqlite', { METRICS_PORT: String(await freePort()) });
  }, 60_000);
  afterAll(() => t?.close(), 60_000);

  it('asks the database once for a burst of probes on every path and port, again once the second is over', async () => {
    // the service's clock stands still unless the test moves it: no sleeping, no race with real time
    let now = t.clock.now().getTime();
    const clock = jest.spyOn(t.clock, 'now').mockImplementation(() => new Date(now));
    const asked = jest.spyOn(t.app.get(DatabaseHealth), 'isUp');
    try {
      const probes = () => [
        ...Array.from({ length: 20 }, () => t.http().get('/readyz').expect(200)),
        ...['/healthz', '/debug/ready', '/debug/healthz'].map((path) => t.http().get(path).expect(200)),
        management(t).get('/readyz').expect(200),
      ];
      await Promise.all(probes());
      await Promise.all(probes());
      expect(asked).toHaveBeenCalledTimes(1);

      now += READINESS_SHARED_MS - 1;
      await t.http().get('/readyz').expect(200);
      expect(asked).toHaveBeenCalledTimes(1);

      now += 1;
      await Promise.all(probes());
      expect(asked).toHaveBeenCalledTimes(2);
    } finally {
      asked.mockRestore();
      clock.mockRestore();
    }
  });
});

describe('the management listener', () => {
  it('binds 127.0.0.1 by default, even when HOST is every interface; METRICS_HOST opens it', async () => {
    const closed = await startApp('sqlite', { HOST: '0.0.0.0', METRICS_PORT: String(await freePort()) });
    try {
      expect(closed.app.get(ManagementServer).address()?.address).toBe('127.0.0.1');
    } finally {
      await closed.close();
    }
    const open = await startApp('sqlite', { METRICS_HOST: '0.0.0.0', METRICS_PORT: String(await freePort()) });
    try {
      expect(open.app.get(ManagementServer).address()?.address).toBe('0.0.0.0');
    } finally {
      await open.close();
    }
  }, 60_000);
});
