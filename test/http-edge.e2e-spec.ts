import { connect } from 'node:net';
import { startApp, TestApp } from './support/test-app';
import { httpPort } from './support/transports';
import { errorBody, NO_TOKEN } from './support/wire';

const ROUTE_NOT_FOUND = errorBody(5, 'API-n0tfd', 'Route not found');
const METHOD_NOT_ALLOWED = errorBody(12, 'API-n0method', 'Method not allowed on this path, see the Allow header');

/** What a raw socket reads for one request (Connection: close). */
function raw(port: number, request: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    let answer = '';
    socket.on('data', (chunk) => (answer += chunk.toString('utf8')));
    socket.on('error', reject);
    socket.on('close', () => resolve(answer));
    socket.write(request);
  });
}

describe('requests Node would answer without a body or not at all (found by the fuzz suite)', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startApp('sqlite');
  }, 60_000);
  afterAll(() => t?.close(), 60_000);

  it.each(['', 'x', '200-ok'])(
    'Expect: %j is ignored: the request gets its ordinary answer with the error body, not a bare 417',
    async (expect_) => {
      const answer = await raw(
        httpPort(t),
        `GET /v2/users/1 HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\nExpect: ${expect_}\r\n\r\n`,
      );
      expect(answer).toMatch(/^HTTP\/1\.1 401 /);
      expect(JSON.parse(answer.slice(answer.indexOf('\r\n\r\n') + 4))).toEqual(NO_TOKEN);
    },
  );

  it('CONNECT gets the error body instead of a dropped connection: 405 on a path of ours, 404 elsewhere', async () => {
    const ours = await raw(httpPort(t), `CONNECT /v2/users/1 HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n`);
    expect(ours).toMatch(/^HTTP\/1\.1 405 /);
    expect(ours).toMatch(/\r\nAllow: DELETE, GET, HEAD\r\n/i);
    expect(JSON.parse(ours.slice(ours.indexOf('\r\n\r\n') + 4))).toEqual(METHOD_NOT_ALLOWED);
    const unknown = await raw(httpPort(t), `CONNECT /v2/nothing HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n`);
    expect(unknown).toMatch(/^HTTP\/1\.1 404 /);
    expect(JSON.parse(unknown.slice(unknown.indexOf('\r\n\r\n') + 4))).toEqual(ROUTE_NOT_FOUND);
  });

  it('Expect: 100-continue still gets its 100 Continue first', async () => {
    const answer = await raw(
      httpPort(t),
      `POST /v2/organizations HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\nExpect: 100-continue\r\n` +
        `Content-Type: application/json\r\nContent-Length: 2\r\n\r\n{}`,
    );
    expect(answer).toMatch(/^HTTP\/1\.1 100 Continue\r\n\r\nHTTP\/1\.1 401 /);
  });
});
