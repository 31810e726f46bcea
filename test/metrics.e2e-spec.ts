import { ManagementServer } from '../src/common/metrics/management-server';
import { createHuman, createOrg } from './support/factories';
import { management, Sample, scrape, valueOf } from './support/prometheus';
import { Database } from '../src/database/sql';
import { bearer, DATABASES, freePort, startApp, TestApp } from './support/test-app';
import { TRANSPORTS, TransportName, transportCaller } from './support/transports';
import { wrongCodeFor } from './support/phone-api';

const TRANSPORT_LABEL: Record<TransportName, string> = {
  rest: 'rest',
  grpc: 'grpc',
  'grpc-web': 'grpc_web',
  connect: 'connect',
};

describe.each(DATABASES)('metrics on the management port (%s)', (db) => {
  let t: TestApp | undefined;
  /** every id and number the flow used: none may appear in a label value */
  const secrets: string[] = [];

  beforeAll(async () => {
    t = await startApp(db, { METRICS_PORT: String(await freePort()) });
  }, 60_000);
  afterAll(async () => {
    await t?.close();
  }, 60_000);

  it('counts a full flow on each transport: by transport, RPC name and status, once each', async () => {
    const orgId = await createOrg(t!);
    const users = new Map<TransportName, string>();
    for (const transport of TRANSPORTS) users.set(transport, (await createHuman(t!, { orgId })).userId);
    secrets.push(orgId, ...users.values());
    const before = await scrape(t!);

    for (const transport of TRANSPORTS) {
      const c = transportCaller(t!, transport);
      try {
        const userId = users.get(transport)!;
        const set = await c.call(
          'UserService',
          'SetPhone',
          { userId, phone: '+41 79 123 45 67', returnCode: {} },
          t!.adminToken,
        );
        expect(set.ok).toBe(true);
        const code = (set as unknown as { response: { verificationCode: string } }).response.verificationCode;
        secrets.push(code);
        const wrong = await c.call(
          'UserService',
          'VerifyPhone',
          { userId, verificationCode: wrongCodeFor(code) },
          t!.adminToken,
        );
        expect(wrong).toMatchObject({ ok: false, code: 3 });
        const right = await c.call('UserService', 'VerifyPhone', { userId, verificationCode: code }, t!.adminToken);
        expect(right.ok).toBe(true);
      } finally {
        c.close();
      }
    }
    secrets.push('791234567');

    const after = await scrape(t!);
    const moved = (name: string, labels: Record<string, string>) =>
      valueOf(after, name, labels) - valueOf(before, name, labels);
    for (const transport of TRANSPORTS) {
      const expected: Array<[string, string]> = [
        ['UserService/SetPhone', 'OK'],
        ['UserService/VerifyPhone', 'INVALID_ARGUMENT'],
        ['UserService/VerifyPhone', 'OK'],
      ];
      for (const [method, code] of expected) {
        const labels = { transport: TRANSPORT_LABEL[transport], method, code };
        // a gRPC-web or Connect call is counted once, under its own transport
        expect([transport, method, code, moved('pv_requests_total', labels)]).toEqual([transport, method, code, 1]);
        expect(moved('pv_request_duration_seconds_count', labels)).toBe(1);
        expect(moved('pv_request_duration_seconds_bucket', { ...labels, le: '+Inf' })).toBe(1);
        expect(moved('pv_request_duration_seconds_sum', labels)).toBeGreaterThan(0);
      }
    }
    // nothing else moved in the request series: the scrapes themselves are not requests of the API
    const total = (samples: Sample[]) =>
      samples.filter((s) => s.name === 'pv_requests_total').reduce((sum, s) => sum + s.value, 0);
    expect(total(after) - total(before)).toBe(3 * TRANSPORTS.length);
  }, 60_000);

  it('counts a path that matched no route as method "unknown", never the path', async () => {
    const before = await scrape(t!);
    await t!.http().get('/v2/users/123456789012/nowhere').set(bearer(t!.adminToken)).expect(404);
    const after = await scrape(t!);
    const labels = { transport: 'rest', method: 'unknown', code: 'NOT_FOUND' };
    expect(valueOf(after, 'pv_requests_total', labels) - valueOf(before, 'pv_requests_total', labels)).toBe(1);
    secrets.push('123456789012');
  });

  it('keeps every label value bounded: no user id, organization id, phone number or code', async () => {
    const samples = await scrape(t!);
    const values = [...new Set(samples.flatMap((s) => Object.values(s.labels)))];
    expect(secrets.length).toBeGreaterThan(5);
    for (const secret of secrets) expect(values.filter((v) => v.includes(secret))).toEqual([]);
    // ids are 17-18 digits, numbers 9 and more: no label value holds a run of 6 digits
    expect(values.filter((v) => /\d{6}/.test(v))).toEqual([]);
    const methods = new Set(samples.filter((s) => s.name === 'pv_requests_total').map((s) => s.labels.method));
    for (const method of methods) expect(method).toMatch(/^([A-Za-z]+\/[A-Za-z]+|[A-Z]+ \/[a-z/:A-Z]*|unknown)$/);
  });

  it('serves the process defaults in the Prometheus text format', async () => {
    const res = await management(t!).get('/metrics').expect(200);
    expect(res.headers['content-type']).toBe('text/plain; version=0.0.4; charset=utf-8');
    for (const name of [
      'process_cpu_user_seconds_total',
      'process_resident_memory_bytes',
      'nodejs_heap_size_used_bytes',
      'nodejs_eventloop_lag_seconds',
    ]) {
      expect(res.text).toMatch(new RegExp(`^${name} `, 'm'));
    }
    expect(res.text).toContain('# TYPE pv_requests_total counter');
    expect(res.text).toContain('# TYPE pv_request_duration_seconds histogram');
  });

  it('reports the database pool (PostgreSQL) and counts failed statements by class', async () => {
    const before = await scrape(t!);
    await expect(t!.app.get(Database).rows(undefined, 'SELECT * FROM no_such_table')).rejects.toThrow();
    const after = await scrape(t!);
    const code = db === 'postgres' ? '42' : 'SQLITE_ERROR';
    const moved = (samples: Sample[]) => valueOf(samples, 'pv_database_statement_errors_total', { code });
    expect(moved(after) - moved(before)).toBe(1);
    const pool = after.filter((s) => s.name === 'pv_database_pool_connections');
    if (db === 'postgres') {
      expect(pool.map((s) => s.labels.state).sort()).toEqual(['idle', 'in_use', 'waiting']);
      // between requests nothing is lent out but the scrape's own outbox query (read while the
      // pool is counted, it may hold a connection or wait for one), and the pool has made at
      // least one connection
      const inUse = valueOf(after, 'pv_database_pool_connections', { state: 'in_use' });
      const waiting = valueOf(after, 'pv_database_pool_connections', { state: 'waiting' });
      expect(inUse + waiting).toBeLessThanOrEqual(1);
      expect(valueOf(after, 'pv_database_pool_connections', { state: 'idle' })).toBeGreaterThan(0);
    } else {
      // SQLite has one connection and no pool
      expect(pool).toEqual([]);
    }
  });

  it('answers only GET and HEAD, and 404 with a JSON body off its three routes', async () => {
    await management(t!).head('/metrics').expect(200);
    const post = await management(t!).post('/metrics').expect(405);
    expect(post.headers.allow).toBe('GET, HEAD');
    expect(post.body).toMatchObject({ code: 12 });
    const missing = await management(t!).get('/v2/users/1').expect(404);
    expect(missing.headers['content-type']).toBe('application/json; charset=utf-8');
    expect(missing.body).toMatchObject({ code: 5, message: expect.stringContaining('/metrics') });
  });

  it('has no /metrics on the public port', async () => {
    const res = await t!.http().get('/metrics').expect(404);
    expect(res.body).toMatchObject({ code: 5 });
    expect(res.text).not.toContain('pv_requests_total');
  });
});

describe('METRICS_PORT=0', () => {
  let t: TestApp | undefined;

  beforeAll(async () => {
    t = await startApp('sqlite', { METRICS_PORT: '0' });
  }, 60_000);
  afterAll(async () => {
    await t?.close();
  }, 60_000);

  it('opens no management listener, and the app serves as before', async () => {
    expect(t!.managementPort).toBeUndefined();
    expect(t!.app.get(ManagementServer).address()).toBeUndefined();
    await t!.http().get('/livez').expect(200);
  });
});
