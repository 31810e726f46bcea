import { createServer, Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Duplex } from 'node:stream';
import pino from 'pino';
import { rawHttp } from '../../../test/support/raw-http';
import { answerClientErrors } from './http-client-errors';

const silent = pino({ level: 'silent' });

function listen(server: Server): Promise<number> {
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve((server.address() as AddressInfo).port)));
}

/** A socket as the clientError handler sees it, recording what was done to it. */
function fakeSocket(writable: boolean, inFlight?: { headersSent: boolean }) {
  const socket = new Duplex({ read() {}, write: (_chunk, _enc, done) => done() });
  const calls: string[] = [];
  Object.assign(socket, { _httpMessage: inFlight });
  Object.defineProperty(socket, 'writable', { value: writable });
  socket.end = ((data?: unknown) => (calls.push(`end ${String(data).split('\r\n')[0]}`), socket)) as never;
  socket.destroy = (() => (calls.push('destroy'), socket)) as never;
  return { socket, calls };
}

describe(answerClientErrors.name, () => {
  let server: Server;
  afterEach(() => new Promise((resolve) => server.close(resolve)));

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
    ['a socket fault', { code: 'ECONNRESET' }, true, undefined],
    ['a socket no longer writable', { code: 'HPE_HEADER_OVERFLOW' }, false, undefined],
    ['a response already under way', { code: 'HPE_INVALID_METHOD' }, true, { headersSent: true }],
  ])('writes nothing on %s: it only destroys the socket', (_, props, writable, inFlight) => {
    server = createServer();
    answerClientErrors(server, silent);
    const { socket, calls } = fakeSocket(writable, inFlight);
    server.emit('clientError', Object.assign(new Error('fault'), props), socket);
    expect(calls).toEqual(['destroy']);
  });
});
