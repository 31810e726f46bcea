import { once } from 'node:events';
import { createServer, IncomingMessage, Server } from 'node:http';
import { AddressInfo, connect, createServer as createTcpServer, Socket } from 'node:net';
import { freePort } from './support/free-port';
import { NO_BACKEND_HEADER, RoundRobinProxy } from './support/round-robin-proxy';

/** An HTTP server that answers with its name and counts the requests it read. */
async function named(name: string): Promise<{ server: Server; port: number; requests: IncomingMessage[] }> {
  const requests: IncomingMessage[] = [];
  const server = createServer((req, res) => {
    requests.push(req);
    res.setHeader('Connection', 'close');
    res.end(name);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return { server, port: (server.address() as AddressInfo).port, requests };
}

/** One request on a new connection: the status line's code and the body. */
async function get(port: number): Promise<{ status: number; body: string; headers: string }> {
  const socket = connect(port, '127.0.0.1');
  // a connection reset is an answer too: none
  socket.on('error', () => undefined);
  socket.end('GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
  let text = '';
  socket.on('data', (chunk: Buffer) => (text += chunk.toString('latin1')));
  await once(socket, 'close');
  const [head, body] = text.split('\r\n\r\n');
  return { status: Number(head.split(' ')[1]), body, headers: head.toLowerCase() };
}

describe(RoundRobinProxy.name, () => {
  const closers: Array<() => Promise<unknown>> = [];
  afterEach(async () => {
    for (const close of closers.splice(0).reverse()) await close();
  });

  it('hands each new connection to the next backend in turn', async () => {
    const backends = await Promise.all(['a', 'b', 'c'].map(named));
    for (const b of backends) closers.push(() => new Promise((resolve) => b.server.close(resolve)));
    const proxy = await RoundRobinProxy.start(backends.map((b) => ({ host: '127.0.0.1', port: b.port })));
    closers.push(() => proxy.close());

    const bodies: string[] = [];
    for (let i = 0; i < 6; i++) bodies.push((await get(proxy.port)).body);
    expect(bodies).toEqual(['a', 'b', 'c', 'a', 'b', 'c']);
    expect(proxy.forwarded).toEqual([2, 2, 2]);
  });

  it('skips a backend that refuses the connection, so the request reaches the next one once', async () => {
    const up = await named('up');
    closers.push(() => new Promise((resolve) => up.server.close(resolve)));
    const down = await freePort();
    const proxy = await RoundRobinProxy.start([
      { host: '127.0.0.1', port: down },
      { host: '127.0.0.1', port: up.port },
    ]);
    closers.push(() => proxy.close());

    const answers = [await get(proxy.port), await get(proxy.port)];
    expect(answers.map((a) => [a.status, a.body])).toEqual([
      [200, 'up'],
      [200, 'up'],
    ]);
    expect(up.requests).toHaveLength(2);
    // the first connection's turn was the stopped backend's; the second's was the live one's
    expect(proxy.refused).toEqual([1, 0]);
    expect(proxy.forwarded).toEqual([0, 2]);
  });

  it('answers 503 itself, naming the proxy, when every backend refuses', async () => {
    const proxy = await RoundRobinProxy.start([{ host: '127.0.0.1', port: await freePort() }]);
    closers.push(() => proxy.close());

    const answer = await get(proxy.port);
    expect(answer.status).toBe(503);
    expect(answer.headers).toContain(`${NO_BACKEND_HEADER}: no-backend`);
    expect(proxy.noBackend).toBe(1);
  });

  it('replays nothing once a backend has the connection: its end is the client’s', async () => {
    const received: string[] = [];
    const sockets: Socket[] = [];
    const silent = createTcpServer((socket) => {
      sockets.push(socket);
      socket.on('data', (chunk: Buffer) => {
        received.push(chunk.toString('latin1'));
        // gone without an answer, as a killed server
        socket.resetAndDestroy();
      });
    });
    silent.listen(0, '127.0.0.1');
    await once(silent, 'listening');
    closers.push(() => new Promise((resolve) => silent.close(resolve)));
    const other = await named('other');
    closers.push(() => new Promise((resolve) => other.server.close(resolve)));
    const proxy = await RoundRobinProxy.start([
      { host: '127.0.0.1', port: (silent.address() as AddressInfo).port },
      { host: '127.0.0.1', port: other.port },
    ]);
    closers.push(() => proxy.close());

    const answer = await get(proxy.port);
    expect(answer).toMatchObject({ body: undefined });
    expect(received.join('')).toContain('GET / HTTP/1.1');
    expect(other.requests).toHaveLength(0);
  });
});
