import fc from 'fast-check';
import { DATABASES, startApp, TestApp } from '../support/test-app';
import { httpPort } from '../support/transports';
import { checkGrpcStatus, expectStillServingAndNoLeaks, Fixtures, fixtures } from './support/checks';
import { FUZZ_TIMEOUT, fuzz } from './support/fuzz';
import { grpcRequestArb } from './support/grpc-requests';
import { rawHttp, unframe } from './support/wire-clients';

/** Hostile gRPC-web calls through the bridge on the HTTP port, as raw HTTP/1.1: never a 5xx, UNKNOWN or INTERNAL. */
describe.each(DATABASES)('fuzz: gRPC-web (%s)', (db) => {
  let t: TestApp;
  let f: Fixtures;

  beforeAll(async () => {
    t = await startApp(db);
    f = await fixtures(t);
  }, 60_000);
  afterAll(() => t?.close(), 60_000);

  it(
    'methods, headers, frames, text mode, compression flags, timeouts and protobuf bytes',
    async () => {
      const request = fc.record({
        call: grpcRequestArb(t.adminToken, f.roleless.token, [f.userId, f.roleless.userId]),
        contentType: fc.oneof(
          { weight: 8, arbitrary: fc.constant('application/grpc-web+proto') },
          { weight: 2, arbitrary: fc.constantFrom('application/grpc-web', 'application/grpc-web-text') },
          { weight: 1, arbitrary: fc.constantFrom('application/grpc-web+json', 'application/grpc-web-text+proto') },
        ),
      });
      await fuzz(
        fc.asyncProperty(request, async ({ call, contentType }) => {
          const text = contentType.startsWith('application/grpc-web-text');
          const body = text ? Buffer.from(call.body.toString('base64')) : call.body;
          const head = [
            `POST ${call.path} HTTP/1.1`,
            'Host: 127.0.0.1',
            'Connection: close',
            `Content-Type: ${contentType}`,
            'X-Grpc-Web: 1',
            ...call.metadata.map(([name, value]) => `${name}: ${value}`),
            `Content-Length: ${body.length}`,
          ];
          const answer = await rawHttp(
            httpPort(t),
            Buffer.concat([Buffer.from(`${head.join('\r\n')}\r\n\r\n`, 'latin1'), body]),
          );
          if (answer.status >= 500)
            throw new Error(`gRPC-web answered HTTP ${answer.status}: ${answer.body.toString('utf8').slice(0, 300)}`);
          const raw = /grpc-web-text/.test(answer.headers['content-type'] ?? '')
            ? Buffer.from(answer.body.toString('latin1'), 'base64')
            : answer.body;
          const { messages, trailers } = unframe(raw);
          const fields = { ...answer.headers, ...trailers };
          const bin = fields['grpc-status-details-bin'];
          const code = checkGrpcStatus(
            fields['grpc-status'],
            fields['grpc-message'],
            bin === undefined ? undefined : Buffer.from(bin, 'base64'),
          );
          if (code === 0 && messages.length !== 1) throw new Error(`OK with ${messages.length} messages`);
        }),
        800,
      );
    },
    FUZZ_TIMEOUT,
  );

  it('afterwards: SetPhone + VerifyPhone work on every transport, and the log holds no token or code', async () => {
    await expectStillServingAndNoLeaks(t, f);
  }, 60_000);
});
