import { closeGrpcClients, grpcClients, GrpcClients } from './support/transports';
import { startApp, TestApp } from './support/test-app';
import { Metadata, ServiceError } from '@grpc/grpc-js';

/**
 * TRUSTED_PROXIES on native gRPC (issue 26, 9): behind a trusted L7 proxy each client is the
 * address the proxy forwards in `x-forwarded-for`, so clients get throttle buckets of their own;
 * from an untrusted peer the header is ignored, so it cannot dodge the throttle.
 */
describe.each([
  ['trusted (TRUSTED_PROXIES=loopback)', 'loopback', true],
  ['not trusted', '', false],
])('native gRPC from a proxy that is %s', (_name, proxies, separate) => {
  let t: TestApp;
  let clients: GrpcClients;

  beforeAll(async () => {
    t = await startApp('sqlite', { THROTTLE_LIMIT: '2', THROTTLE_WINDOW: '60s', TRUSTED_PROXIES: proxies });
    clients = grpcClients(t);
  }, 60_000);
  afterAll(async () => {
    if (clients) closeGrpcClients(clients);
    await t?.close();
  }, 60_000);

  /** GetUserByID as forwarded for `address`: the gRPC code it ends with (5: the user is unknown). */
  function callFor(address: string): Promise<number> {
    return new Promise((resolve) => {
      const metadata = new Metadata();
      metadata.set('authorization', `Bearer ${t.adminToken}`);
      metadata.set('x-forwarded-for', address);
      clients.UserService.GetUserByID({ userId: 'nobody' }, metadata, (error: ServiceError | null) =>
        resolve(error?.code ?? 0),
      );
    });
  }

  it(separate ? 'counts each forwarded client on its own' : 'counts every call against the peer', async () => {
    expect([await callFor('203.0.113.1'), await callFor('203.0.113.1')]).toEqual([5, 5]);
    expect(await callFor('203.0.113.1')).toBe(8); // RESOURCE_EXHAUSTED
    expect(await callFor('203.0.113.2')).toBe(separate ? 5 : 8);
  });
});
