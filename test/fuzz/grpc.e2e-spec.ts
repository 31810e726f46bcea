import fc from 'fast-check';
import type { ClientHttp2Session } from 'node:http2';
import { DATABASES, startApp, TestApp } from '../support/test-app';
import { grpcAddress } from '../support/transports';
import { checkGrpcStatus, expectStillServingAndNoLeaks, Fixtures, fixtures } from './support/checks';
import { FUZZ_TIMEOUT, fuzz } from './support/fuzz';
import { grpcRequestArb } from './support/grpc-requests';
import { http2Call, http2Session, unframe } from './support/wire-clients';

const first = (value: string | string[] | undefined) => (Array.isArray(value) ? value[0] : value);

/** Hostile native gRPC calls, made by hand over HTTP/2: never UNKNOWN or INTERNAL, every error with its details. */
describe.each(DATABASES)('fuzz: gRPC (%s)', (db) => {
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
          session = http2Session(grpcAddress(t));
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
          const status = Number(answer.headers[':status']);
          if (status !== 200) throw new Error(`HTTP/2 :status ${status} (${JSON.stringify(answer.headers)})`);
          const fields = { ...answer.headers, ...answer.trailers };
          const bin = first(fields['grpc-status-details-bin']);
          const code = checkGrpcStatus(
            first(fields['grpc-status']),
            first(fields['grpc-message']),
            bin === undefined ? undefined : Buffer.from(bin, 'base64'),
          );
          if (code === 0 && unframe(answer.data).messages.length !== 1 && !call.path.includes('Reflection')) {
            throw new Error(`OK with ${unframe(answer.data).messages.length} messages`);
          }
        }),
        1200,
      );
    },
    FUZZ_TIMEOUT,
  );

  it('afterwards: SetPhone + VerifyPhone work on every transport, and the log holds no token or code', async () => {
    session?.close();
    await expectStillServingAndNoLeaks(t, f);
  }, 60_000);
});
