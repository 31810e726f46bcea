import { Metrics } from './metrics';
import { RequestMetrics } from './request-metrics';

describe(RequestMetrics.name, () => {
  const lines = async (metrics: Metrics) => (await metrics.registry.metrics()).split('\n');

  it('counts by transport, method and status name, with buckets that include their bound (le)', async () => {
    const metrics = new Metrics();
    const requests = new RequestMetrics(metrics);
    requests.observe('grpc', 'UserService/VerifyPhone', 3, 0.005);
    requests.observe('grpc', 'UserService/VerifyPhone', 3, 0.0051);
    requests.observe('grpc', 'UserService/VerifyPhone', 0, 20);
    const text = await lines(metrics);
    const labels = 'transport="grpc",method="UserService/VerifyPhone"';
    expect(text).toContain(`pv_requests_total{${labels},code="INVALID_ARGUMENT"} 2`);
    expect(text).toContain(`pv_requests_total{${labels},code="OK"} 1`);
    expect(text).toContain(`pv_request_duration_seconds_bucket{${labels},code="INVALID_ARGUMENT",le="0.0025"} 0`);
    expect(text).toContain(`pv_request_duration_seconds_bucket{${labels},code="INVALID_ARGUMENT",le="0.005"} 1`);
    expect(text).toContain(`pv_request_duration_seconds_bucket{${labels},code="INVALID_ARGUMENT",le="0.01"} 2`);
    expect(text).toContain(`pv_request_duration_seconds_bucket{${labels},code="OK",le="10"} 0`);
    expect(text).toContain(`pv_request_duration_seconds_bucket{${labels},code="OK",le="+Inf"} 1`);
    expect(text).toContain(`pv_request_duration_seconds_sum{${labels},code="OK"} 20`);
    expect(text).toContain(`pv_request_duration_seconds_count{${labels},code="INVALID_ARGUMENT"} 2`);
    expect(text).toContain('# TYPE pv_requests_total counter');
    expect(text).toContain('# TYPE pv_request_duration_seconds histogram');
  });

  it('names a REST request by its OpenAPI operation, else by its route template, else unknown; gRPC-web by its RPC', async () => {
    const metrics = new Metrics();
    const requests = new RequestMetrics(metrics);
    requests.setRestOperations({
      '/v2/users/{userId}/phone/verify': { post: { operationId: 'UserService_VerifyPhone' } },
      '/livez': { get: { operationId: 'Health_Live' } },
    });
    const req = (method: string, path?: string) => ({ method, route: path ? { path } : undefined }) as never;
    const res = (statusCode: number, locals: object = {}) => ({ statusCode, locals }) as never;
    requests.observeHttp(req('POST', '/v2/users/:userId/phone/verify'), res(400, { grpcCode: 9 }), 0.001);
    requests.observeHttp(req('HEAD', '/livez'), res(200), 0.001);
    requests.observeHttp(req('GET', '/debug/ready'), res(503), 0.001);
    requests.observeHttp(req('GET'), res(404), 0.001);
    requests.observeHttp(req('POST', '/v2/users/:userId/phone/verify'), res(200), 0.001, true);
    // gRPC-web: a call of ours, one the bridge refused (no such method), one the client left
    requests.observeHttp(
      req('POST'),
      res(200, { rpcTransport: 'grpc_web', rpcMethod: 'UserService/SetPhone', rpcCode: 0 }),
      0.001,
    );
    requests.observeHttp(req('POST'), res(200, { rpcTransport: 'grpc_web', rpcCode: 12 }), 0.001);
    requests.observeHttp(
      req('POST'),
      res(200, { rpcTransport: 'grpc_web', rpcMethod: 'UserService/SetPhone' }),
      0.001,
      true,
    );
    const text = await lines(metrics);
    expect(text).toContain(
      'pv_requests_total{transport="rest",method="UserService/VerifyPhone",code="FAILED_PRECONDITION"} 1',
    );
    expect(text).toContain('pv_requests_total{transport="rest",method="Health/Live",code="OK"} 1');
    expect(text).toContain('pv_requests_total{transport="rest",method="GET /debug/ready",code="UNAVAILABLE"} 1');
    expect(text).toContain('pv_requests_total{transport="rest",method="unknown",code="NOT_FOUND"} 1');
    expect(text).toContain('pv_requests_total{transport="rest",method="UserService/VerifyPhone",code="CANCELLED"} 1');
    expect(text).toContain('pv_requests_total{transport="grpc_web",method="UserService/SetPhone",code="OK"} 1');
    expect(text).toContain('pv_requests_total{transport="grpc_web",method="unknown",code="UNIMPLEMENTED"} 1');
    expect(text).toContain('pv_requests_total{transport="grpc_web",method="UserService/SetPhone",code="CANCELLED"} 1');
    expect(text.filter((l) => l.startsWith('pv_requests_total{'))).toHaveLength(8);
  });

  it('keeps two apps apart: each registry has its own counts', async () => {
    const [a, b] = [new Metrics(), new Metrics()];
    new RequestMetrics(a).observe('rest', 'unknown', 5, 0.001);
    new RequestMetrics(b);
    expect((await lines(a)).some((l) => l.startsWith('pv_requests_total{'))).toBe(true);
    expect((await lines(b)).some((l) => l.startsWith('pv_requests_total{'))).toBe(false);
  });
});
