import { createServer, Server } from 'node:http';
import { connect, type AddressInfo } from 'node:net';
import { Duplex } from 'node:stream';
import pino from 'pino';
import { rawHttp } from '../support/raw-http';
import { answerClientErrors } from '../../src/common/errors/http-client-errors';

const silent = pino({ level: 'silent' });

function listen(server: Server): Promise<number> {
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve((server.address() as AddressInfo).port)));
}

/** A socket as the clientError handler sees it, recording what was done to it. */
function fakeSocket(writable: boolean) {
  const socket = new Duplex({ read() {}, write: (_chunk, _enc, done) => done() });
  const calls: string[] = [];
  Object.defineProperty(socket, 'writable', { value: writable });
  socket.end = ((data?: unknown) => (calls.push(`end ${String(data).split('\r\n')[0]}`), socket)) as never;
  socket.destroy = (() => (calls.push('destroy'), socket)) as never;
  return { socket, calls };
}

describe(answerClientErrors.name, () => {
  let server: Server;
  afterEach(() => {
    server.closeAllConnections();
    return new Promise((resolve) => server.close(resolve));
  });

  it('answers a request that is not received in time with 408 and the error body', async () => {
    server = createServer({ requestTimeout: 200, headersTimeout: 200, connectionsCheckingInterval: 50 });
    answerClientErrors(server, silent);
    const port = await listen(server);
    // headers never finished
    const res = await rawHttp(port, 'GET / HTTP/1.1\r\nHost: x\r\n');
    expect(res.status).toBe(408);
    expect(JSON.parse(res.body)).toEqual({
      code: 4,
      message: 'Request was not received in time (API-t1meout)',
      details: [
        {
          '@type': 'type.googleapis.com/zitadel.v1.ErrorDetail',
          id: 'API-t1meout',
          message: 'Request was not received in time',
        },
      ],
    });
  });

  it('answers a parse error once, however often the parser reports it', () => {
    server = createServer();
    answerClientErrors(server, silent);
    const { socket, calls } = fakeSocket(true);
    const error = Object.assign(new Error('Parse Error'), { code: 'HPE_INVALID_METHOD' });
    server.emit('clientError', error, socket);
    server.emit('clientError', error, socket);
    expect(calls).toEqual(['end HTTP/1.1 400 Bad Request']);
  });

  it.each([
    ['a socket fault', { code: 'ECONNRESET' }, true],
    ['a socket no longer writable', { code: 'HPE_HEADER_OVERFLOW' }, false],
  ])('writes nothing on %s: it only destroys the socket', (_, props, writable) => {
    server = createServer();
    answerClientErrors(server, silent);
    const { socket, calls } = fakeSocket(writable);
    server.emit('clientError', Object.assign(new Error('fault'), props), socket);
    expect(calls).toEqual(['destroy']);
  });

  it('writes nothing into a response already under way: a malformed pipelined request only closes the connection', async () => {
    server = createServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'text/plain', 'content-length': '100' });
      // 7 of its 100 bytes, never ended
      res.write('partial');
    });
    answerClientErrors(server, silent);
    const port = await listen(server);
    const { received, closed } = await followUp(port, 'partial', MALFORMED_REQUEST);
    expect(closed).toBe(true);
    expect(received).toMatch(/^HTTP\/1\.1 200 OK\r\n/);
    expect(received.endsWith('partial')).toBe(true);
    expect(received).not.toContain('400');
  });

  it('answers a malformed request that follows a finished response on the same connection', async () => {
    server = createServer((_req, res) => res.end('first'));
    answerClientErrors(server, silent);
    const port = await listen(server);
    const { received, closed } = await followUp(port, 'first', MALFORMED_REQUEST);
    expect(closed).toBe(true);
    const second = received.slice(received.indexOf('first') + 'first'.length);
    expect(second).toMatch(/^HTTP\/1\.1 400 Bad Request\r\n/);
    expect(second).toContain('API-badreq');
  });
});

const MALFORMED_REQUEST = 'B@D / HTTP/1.1\r\nHost: x\r\n\r\n';

/**
 * Sends a GET on a new connection, then `next` on the same connection once the answer so far ends
 * with `marker`; resolves with all that was received when the server closes the connection.
 */
function followUp(port: number, marker: string, next: string): Promise<{ received: string; closed: boolean }> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    let received = '';
    let sent = false;
    socket.setEncoding('latin1');
    socket.on('data', (chunk: string) => {
      received += chunk;
      if (!sent && received.endsWith(marker)) {
        sent = true;
        socket.write(next);
      }
    });
    socket.on('error', reject);
    socket.on('close', () => resolve({ received, closed: sent }));
    socket.write('GET / HTTP/1.1\r\nHost: x\r\n\r\n');
  });
}
