import fc from 'fast-check';
import type { ClientHttp2Session } from 'node:http2';
import { DATABASES, startApp, TestApp } from '../../support/test-app';
import { checkGrpcStatus, expectStillServingAndNoLeaks, Fixtures, fixtures } from './checks';
import { FUZZ_TIMEOUT, fuzz } from './fuzz';
import { grpcRequestArb } from './grpc-requests';
import { Http2Answer, http2Call, http2Session, unframe } from './wire-clients';

const first = (value: string | string[] | undefined) => (Array.isArray(value) ? value[0] : value);

export interface GrpcFuzzOptions {
  /** `host:port` of the port under test */
  address: (t: TestApp) => string;
  runs: number;
  /** more tests on the same app, run before the final check that it still serves */
  more?: (app: () => { t: TestApp; f: Fixtures }) => void;
}

/**
 * A native gRPC answer, made by hand over HTTP/2: HTTP 200 and a status in the headers or
 * trailers, never UNKNOWN or INTERNAL, every error with its details. On the HTTP port a call whose
 * content type is gRPC-web's is answered by the gRPC-web bridge: its status is in the body's
 * trailer frame. Returns the gRPC status code.
 */
export function checkHttp2GrpcAnswer(answer: Http2Answer, path: string): number {
  const status = Number(answer.headers[':status']);
  if (status !== 200) throw new Error(`HTTP/2 :status ${status} (${JSON.stringify(answer.headers)})`);
  const type = first(answer.headers['content-type']) ?? '';
  const web = /^application\/grpc-web/.test(type);
  const data = /^application\/grpc-web-text/.test(type)
    ? Buffer.from(answer.data.toString('latin1'), 'base64')
    : answer.data;
  const { messages, trailers } = unframe(data);
  const fields = { ...answer.headers, ...answer.trailers, ...(web ? trailers : {}) };
  const bin = first(fields['grpc-status-details-bin']);
  const code = checkGrpcStatus(
    first(fields['grpc-status']),
    first(fields['grpc-message']),
    bin === undefined ? undefined : Buffer.from(bin, 'base64'),
  );
  if (code === 0 && messages.length !== 1 && !path.includes('Reflection')) {
    throw new Error(`OK with ${messages.length} messages`);
  }
  return code;
}

/**
 * Hostile native gRPC calls, made by hand over HTTP/2 to the port `address` names, each on a
 * connection of its own (on the HTTP port, each connection is handed over on its first request):
 * never UNKNOWN or INTERNAL, every error with its details.
 */
export function describeGrpcFuzz(name: string, options: GrpcFuzzOptions): void {
  describe.each(DATABASES)(`fuzz: ${name} (%s)`, (db) => {
    let t: TestApp;
    let f: Fixtures;
    let session: ClientHttp2Session | undefined;

    beforeAll(async () => {
      t = await startApp(db);
      f = await fixtures(t);
    }, 60_000);
    afterAll(async () => {
      session?.close();
      await t?.close();
    }, 60_000);

    it(
      'methods, metadata, frames, compression flags, timeouts and protobuf bytes',
      async () => {
        const request = fc.record({
          call: grpcRequestArb(t.adminToken, f.roleless.token, [f.userId, f.roleless.userId]),
          contentType: fc.oneof(
            { weight: 10, arbitrary: fc.constant('application/grpc') },
            {
              weight: 1,
              arbitrary: fc.constantFrom('application/grpc+proto', 'application/grpc+json', 'application/grpc-web'),
            },
          ),
        });
        await fuzz(
          fc.asyncProperty(request, async ({ call, contentType }) => {
            const headers: Record<string, string | string[]> = {
              ':path': call.path,
              'content-type': contentType,
              te: 'trailers',
            };
            for (const [name, value] of call.metadata) headers[name] = value;
            // a connection of its own: a call that stalls one must not be blamed on the calls after it
            session = http2Session(options.address(t));
            let answer;
            try {
              answer = await http2Call(session, headers, call.body);
            } catch (error) {
              // a header value Node's own HTTP/2 client refuses to send is no request
              if ((error as { code?: string }).code?.startsWith('ERR_HTTP2_INVALID')) return;
              throw error;
            } finally {
              session.close();
            }
            checkHttp2GrpcAnswer(answer, call.path);
          }),
          options.runs,
        );
      },
      FUZZ_TIMEOUT,
    );

    options.more?.(() => ({ t, f }));

    it('afterwards: SetPhone + VerifyPhone work on every transport, and the log holds no token or code', async () => {
      session?.close();
      await expectStillServingAndNoLeaks(t, f);
    }, 60_000);
  });
}
