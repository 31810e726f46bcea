import { Server, ServerCredentials, ServerInterceptingCall } from '@grpc/grpc-js';
import http2, { type IncomingHttpHeaders } from 'node:http2';
import { boundUnknownMethod } from '../../src/common/grpc/library-status';
import { decodeStatusDetails, STATUS_DETAILS_KEY } from '../../src/common/grpc/status-details';

/** The trailers-only answer to one call of `path` on a server at 127.0.0.1:`port`. */
function callPath(port: number, path: string): Promise<IncomingHttpHeaders> {
  return new Promise((resolve, reject) => {
    const session = http2.connect(`http://127.0.0.1:${port}`);
    session.on('error', reject);
    const stream = session.request({
      ':method': 'POST',
      ':path': path,
      'content-type': 'application/grpc',
      te: 'trailers',
    });
    stream.on('response', (headers) => {
      resolve(headers);
      session.close();
    });
    stream.on('error', reject);
    stream.end(Buffer.alloc(5));
  });
}

/**
 * grpc-js answers a method it has no handler for from its private `Server._respondWithError`,
 * before any call or interceptor exists: boundUnknownMethod wraps it (docs/adr/0006-library-internals.md).
 */
describe(boundUnknownMethod.name, () => {
  let server: Server;
  let port: number;
  /** the methods a server interceptor was called for */
  let intercepted: string[];

  beforeEach(async () => {
    intercepted = [];
    server = new Server({
      interceptors: [
        (method, call) => {
          intercepted.push(method.path);
          return new ServerInterceptingCall(call);
        },
      ],
    });
    boundUnknownMethod(server);
    port = await new Promise<number>((resolve, reject) =>
      server.bindAsync('127.0.0.1:0', ServerCredentials.createInsecure(), (error, bound) =>
        error ? reject(error) : resolve(bound),
      ),
    );
  });
  afterEach(() => server.forceShutdown());

  it("grpc-js still answers an unknown method from Server's `_respondWithError`", () => {
    expect(typeof (Server.prototype as unknown as { _respondWithError?: unknown })._respondWithError).toBe('function');
  });

  it('grpc-js calls no server interceptor for an unknown method (were it to, the private hook could go)', async () => {
    const headers = await callPath(port, '/zitadel.user.v2.UserService/NoSuchMethod');
    expect(headers['grpc-status']).toBe('12');
    expect(intercepted).toEqual([]);
  });

  it('an unknown method is UNIMPLEMENTED with its name cut short and the error body', async () => {
    const path = `/zitadel.user.v2.UserService/${'X'.repeat(1_000)}`;
    const headers = await callPath(port, path);
    expect(headers['grpc-status']).toBe('12');
    const message = decodeURIComponent(String(headers['grpc-message']));
    expect(message).toMatch(/^method \/zitadel\.user\.v2\.UserService\/X+… is not supported \(API-unimpl\)$/);
    expect(message.length).toBeLessThan(300);
    const details = decodeStatusDetails(Buffer.from(String(headers[STATUS_DETAILS_KEY]), 'base64'));
    expect(details).toMatchObject({ code: 12, details: [expect.objectContaining({ id: 'API-unimpl' })] });
  });
});
