import fc from 'fast-check';
import type { TestApp } from '../support/test-app';
import { httpPort } from '../support/transports';
import { checkConnectAnswer, checkRestAnswer, expectConnectionsBackTo, openConnections } from './support/checks';
import { FUZZ_TIMEOUT, fuzz } from './support/fuzz';
import { checkHttp2GrpcAnswer, describeGrpcFuzz } from './support/grpc-fuzz';
import { FLAG, FRAME, h2Frame, headerBlock, PREFACE, RawH2, requestFields } from './support/h2-raw';
import { grpcFrame, http2Call, http2Session } from './support/wire-clients';

const HEALTH = '/grpc.health.v1.Health/Check';
/** How long the server may take to close a connection it has given up on. */
const CLOSE_MS = 3_000;
const SETTINGS = h2Frame(FRAME.SETTINGS, 0, 0);
const EMPTY_CALL = h2Frame(FRAME.DATA, FLAG.END_STREAM, 1, grpcFrame(Buffer.alloc(0)));

/** What makes the first request of a connection grpc-js's. */
const GRPC = /^application\/grpc(\+|;|$)/i;

const httpAddress = (t: TestApp) => `127.0.0.1:${httpPort(t)}`;

/** A Health/Check on a new HTTP/2 connection to the HTTP port: still served. */
async function expectGrpcServed(t: TestApp): Promise<void> {
  const session = http2Session(httpAddress(t));
  try {
    const answer = await http2Call(
      session,
      { ':path': HEALTH, 'content-type': 'application/grpc', te: 'trailers' },
      grpcFrame(Buffer.alloc(0)),
    );
    expect(checkHttp2GrpcAnswer(answer, HEALTH)).toBe(0);
  } finally {
    session.close();
  }
}

/** A raw connection with the preface, our SETTINGS and a first request's headers as `frames`. */
async function rawCall(t: TestApp, frames: Buffer[], split?: number): Promise<RawH2> {
  const connection = new RawH2(httpPort(t));
  const bytes = Buffer.concat([PREFACE, SETTINGS, ...frames]);
  if (split) await connection.writeSplit(bytes, split);
  else await connection.write(bytes);
  return connection;
}

/** The server answered stream 1 with grpc-status 0. */
async function expectHealthy(connection: RawH2): Promise<void> {
  const end = await connection.answerOf(1);
  expect(end === 'closed' ? 'closed' : connection.fieldsOf(1).get('grpc-status')).toBe('0');
}

/** The server gives the connection up by itself: a close (or GOAWAY), never a hang. */
async function expectGivenUp(connection: RawH2, t: TestApp): Promise<void> {
  const end = await connection.until((f) => f.type === FRAME.GOAWAY, CLOSE_MS);
  connection.destroy();
  expect(end === 'closed' || end.type === FRAME.GOAWAY).toBe(true);
  expect(t.logs.filter((line) => line.includes('HTTP/2 connection refused'))).toEqual([]);
}

const health = (port: number, contentType = 'application/grpc') =>
  headerBlock(requestFields(HEALTH, contentType, port));

/**
 * Native gRPC on the HTTP port (each connection read up to its first request, then handed to
 * grpc-js): the gRPC fuzz's hostile calls, first requests of every content type, and raw HTTP/2
 * that no client library would send. The server answers or closes, never crashes or hangs, and
 * serves the next connection.
 */
describeGrpcFuzz('gRPC on the HTTP port', {
  address: httpAddress,
  runs: 1200,
  more: (app) => {
    it(
      'first requests with odd or missing content types: each answered in the protocol it chose',
      async () => {
        const { t } = app();
        const request = fc.record({
          path: fc.constantFrom(HEALTH, '/zitadel.user.v2.UserService/SetPhone', '/v2/users/1/phone', '/nothing'),
          contentType: fc.oneof(
            {
              weight: 4,
              arbitrary: fc.constantFrom(
                undefined,
                '',
                'application/grpc',
                'application/GRPC',
                'application/grpc;charset=utf-8',
                'application/grpc+proto',
                'application/grpc+json',
                'application/grpcx',
                'application/grpc-web',
                'application/grpc-web-text',
                'application/json',
                'application/proto',
                'application/connect+proto',
                'text/plain',
                ' application/grpc',
              ),
            },
            { weight: 1, arbitrary: fc.string({ maxLength: 30 }) },
          ),
          then: fc.option(fc.constantFrom('application/grpc', 'application/json', 'application/grpc-web'), {
            nil: undefined,
          }),
        });
        await fuzz(
          fc.asyncProperty(request, async ({ path, contentType, then }) => {
            const session = http2Session(httpAddress(t));
            try {
              for (const type of then === undefined ? [contentType] : [contentType, then]) {
                const headers: Record<string, string> = { ':path': path, te: 'trailers' };
                if (type !== undefined) headers['content-type'] = type;
                const json = /json/.test(type ?? '');
                const answer = await http2Call(session, headers, json ? Buffer.from('{}') : grpcFrame(Buffer.alloc(0)));
                const status = Number(answer.headers[':status']);
                const answered = String(answer.headers['content-type'] ?? '');
                if (/^application\/grpc/.test(answered)) checkHttp2GrpcAnswer(answer, path);
                // grpc-js's answer to a content type it does not take (on a connection it was handed)
                else if (status === 415 && GRPC.test(contentType ?? '')) continue;
                else if (path.startsWith('/v2/') || path === '/nothing') {
                  checkRestAnswer(status, answer.data.toString('utf8'), t.logs);
                } else checkConnectAnswer({ status, headers: answer.headers, body: answer.data });
              }
            } finally {
              session.close();
            }
          }),
          100,
        );
        await expectGrpcServed(t);
      },
      FUZZ_TIMEOUT,
    );

    it('a call whose bytes come one at a time (sniffing, preface, frames and hand-over each see single bytes)', async () => {
      const { t } = app();
      const port = httpPort(t);
      const grpc = await rawCall(t, [h2Frame(FRAME.HEADERS, FLAG.END_HEADERS, 1, health(port)), EMPTY_CALL], 1);
      await expectHealthy(grpc);
      grpc.destroy();
      const connect = await rawCall(
        t,
        [
          h2Frame(FRAME.HEADERS, FLAG.END_HEADERS, 1, health(port, 'application/json')),
          h2Frame(FRAME.DATA, FLAG.END_STREAM, 1, Buffer.from('{}')),
        ],
        1,
      );
      await connect.answerOf(1);
      expect(connect.fieldsOf(1).get(':status')).toBe('200');
      connect.destroy();
      // and frames cut at every size from 2 to 40 bytes
      for (let size = 2; size <= 40; size += 7) {
        const call = await rawCall(t, [h2Frame(FRAME.HEADERS, FLAG.END_HEADERS, 1, health(port)), EMPTY_CALL], size);
        await expectHealthy(call);
        call.destroy();
      }
    }, 30_000);

    it('a header block in CONTINUATIONs, padded, with a priority: answered as any other', async () => {
      const { t } = app();
      const block = health(httpPort(t));
      const cuts = [1, 20, block.length - 3];
      const continued = await rawCall(t, [
        h2Frame(FRAME.HEADERS, 0, 1, block.subarray(0, cuts[0])),
        h2Frame(FRAME.CONTINUATION, 0, 1, block.subarray(cuts[0], cuts[1])),
        h2Frame(FRAME.CONTINUATION, 0, 1, block.subarray(cuts[1], cuts[2])),
        h2Frame(FRAME.CONTINUATION, FLAG.END_HEADERS, 1, block.subarray(cuts[2])),
        EMPTY_CALL,
      ]);
      await expectHealthy(continued);
      continued.destroy();
      const padding = 200;
      const padded = await rawCall(t, [
        h2Frame(
          FRAME.HEADERS,
          FLAG.END_HEADERS | FLAG.PADDED,
          1,
          Buffer.concat([Buffer.from([padding]), block, Buffer.alloc(padding)]),
        ),
        EMPTY_CALL,
      ]);
      await expectHealthy(padded);
      padded.destroy();
      const prioritized = await rawCall(t, [
        h2Frame(
          FRAME.HEADERS,
          FLAG.END_HEADERS | FLAG.PADDED | FLAG.PRIORITY,
          1,
          Buffer.concat([Buffer.from([3, 0, 0, 0, 0, 15]), block, Buffer.alloc(3)]),
        ),
        EMPTY_CALL,
      ]);
      await expectHealthy(prioritized);
      prioritized.destroy();
      // the request's frames arrive before the acknowledgement of our SETTINGS, which comes last
      const late = new RawH2(httpPort(t));
      await late.write(
        Buffer.concat([PREFACE, SETTINGS, h2Frame(FRAME.HEADERS, FLAG.END_HEADERS, 1, block), EMPTY_CALL]),
      );
      await expectHealthy(late);
      late.destroy();
    });

    it('broken first frames: the connection is closed (or sent GOAWAY) by the server, which serves the next', async () => {
      const { t } = app();
      const port = httpPort(t);
      const block = health(port);
      const cases: Record<string, Buffer[]> = {
        'garbage after the preface': [Buffer.from('GET / HTTP/1.1\r\nHost: x\r\n\r\n')],
        'a frame larger than SETTINGS_MAX_FRAME_SIZE': [h2Frame(FRAME.PING, 0, 0, Buffer.alloc(16_385))],
        'a frame header announcing 16 MiB': [Buffer.from([0xff, 0xff, 0xff, 0, 0, 0, 0, 0, 0])],
        'a header block interrupted by DATA': [h2Frame(FRAME.HEADERS, 0, 1, block.subarray(0, 10)), EMPTY_CALL],
        'a CONTINUATION of another stream': [
          h2Frame(FRAME.HEADERS, 0, 1, block.subarray(0, 10)),
          h2Frame(FRAME.CONTINUATION, FLAG.END_HEADERS, 3, block.subarray(10)),
        ],
        'padding longer than the frame': [
          h2Frame(FRAME.HEADERS, FLAG.END_HEADERS | FLAG.PADDED, 1, Buffer.concat([Buffer.from([250]), block])),
        ],
        'a header block HPACK cannot decode': [
          h2Frame(FRAME.HEADERS, FLAG.END_HEADERS, 1, Buffer.from([0xff, 0xff, 0xff, 0xff, 0x7f, 0x80])),
        ],
        'an index beyond the tables': [h2Frame(FRAME.HEADERS, FLAG.END_HEADERS, 1, Buffer.from([0xbf]))],
        'SETTINGS acknowledged twice': [h2Frame(FRAME.SETTINGS, FLAG.ACK, 0), h2Frame(FRAME.SETTINGS, FLAG.ACK, 0)],
        'more than the preface limit before a request': Array.from({ length: 12 }, () =>
          h2Frame(0x20, 0, 0, Buffer.alloc(16_000)),
        ),
        'a request on stream 0': [h2Frame(FRAME.HEADERS, FLAG.END_HEADERS, 0, block), EMPTY_CALL],
        'garbage after a complete first request': [
          h2Frame(FRAME.HEADERS, FLAG.END_HEADERS, 1, block),
          Buffer.from('\x00\x00\x05\xff'.repeat(40), 'latin1'),
        ],
      };
      for (const [name, frames] of Object.entries(cases)) {
        const connection = await rawCall(t, frames);
        try {
          await expectGivenUp(connection, t);
        } catch (error) {
          throw new Error(`${name}: ${(error as Error).message}`);
        }
      }
      await expectGrpcServed(t);
    }, 60_000);

    it(
      'random bytes after the preface, then the client done: answered, closed or given GOAWAY, never left open',
      async () => {
        const { t } = app();
        const before = await openConnections(t);
        await fuzz(
          fc.asyncProperty(fc.uint8Array({ maxLength: 300 }), fc.boolean(), async (garbage, settings) => {
            const connection = new RawH2(httpPort(t));
            await connection.write(Buffer.concat([PREFACE, ...(settings ? [SETTINGS] : []), garbage]));
            connection.end();
            const end = await connection.until((f) => f.type === FRAME.GOAWAY, CLOSE_MS);
            connection.destroy();
            if (end !== 'closed' && end.type !== FRAME.GOAWAY) throw new Error('neither closed nor GOAWAY');
          }),
          60,
        );
        await expectConnectionsBackTo(t, before, CLOSE_MS);
        expect(t.logs.filter((line) => line.includes('HTTP/2 connection refused'))).toEqual([]);
        await expectGrpcServed(t);
      },
      FUZZ_TIMEOUT,
    );

    it('a client that goes away mid-preface: its connection is closed on the server at once, not held until the idle timeout', async () => {
      const { t } = app();
      const port = httpPort(t);
      const prefixes: Record<string, Buffer> = {
        nothing: Buffer.alloc(0),
        'one byte': PREFACE.subarray(0, 1),
        'two bytes': PREFACE.subarray(0, 2),
        'half the preface': PREFACE.subarray(0, 12),
        'the preface': PREFACE,
        'the preface and half a frame': Buffer.concat([PREFACE, SETTINGS.subarray(0, 5)]),
        'the preface and a header block cut short': Buffer.concat([
          PREFACE,
          SETTINGS,
          h2Frame(FRAME.HEADERS, 0, 1, health(port)),
        ]),
      };
      for (const [name, bytes] of Object.entries(prefixes)) {
        for (const how of ['end', 'destroy'] as const) {
          const before = await openConnections(t);
          const connection = new RawH2(port);
          await connection.write(bytes);
          await new Promise((resolve) => setTimeout(resolve, 20));
          try {
            if (how === 'end') {
              // half-closed: the server closes its side
              connection.end();
              const end = await connection.until(() => false, CLOSE_MS).catch((error: Error) => error);
              if (end !== 'closed') throw new Error('the server kept its side open');
            } else connection.destroy();
            await expectConnectionsBackTo(t, before, CLOSE_MS);
          } catch (error) {
            throw new Error(`${name}, ${how}: ${(error as Error).message}`);
          } finally {
            connection.destroy();
          }
        }
      }
      await expectGrpcServed(t);
    }, 60_000);
  },
});
