import { Agent, createServer, request, Server, ServerResponse } from 'node:http';
import { AddressInfo, connect, Socket } from 'node:net';
import { HttpDrain, IDLE_GRACE_MS } from '../../src/common/shutdown/http-drain';
import { until } from '../support/wait';

interface Answer {
  status?: number;
  connection?: string;
  reused?: boolean;
  error?: string;
}

describe(HttpDrain.name, () => {
  let server: Server;
  let drain: HttpDrain;
  let port: number;
  let agent: Agent;
  let grace = IDLE_GRACE_MS;
  /** requests to /hold wait here until the test answers them */
  const held: ServerResponse[] = [];

  beforeEach(async () => {
    server = createServer((req, res) => {
      if (req.url === '/hold') held.push(res);
      else res.end('ok');
    });
    drain = new HttpDrain(server, grace);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    port = (server.address() as AddressInfo).port;
    agent = new Agent({ keepAlive: true, maxSockets: 1 });
  });
  afterEach(async () => {
    agent.destroy();
    held.splice(0).forEach((res) => res.destroy());
    drain.cut();
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  });

  function get(path: string): Promise<Answer> {
    return new Promise((resolve) => {
      const req = request({ host: '127.0.0.1', port, path, agent }, (res) => {
        res.resume();
        res.on('end', () =>
          resolve({ status: res.statusCode, connection: res.headers.connection, reused: req.reusedSocket }),
        );
      });
      req.on('error', (error: NodeJS.ErrnoException) => resolve({ error: error.code }));
      req.end();
    });
  }

  it('answers a request in flight when the drain starts, with Connection: close, then resolves', async () => {
    const answer = get('/hold');
    await until('the request to arrive', () => held.length === 1, 5_000, 10);
    let drained = false;
    const done = drain.drain().then(() => (drained = true));
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(drained).toBe(false);
    held[0].end('late');
    expect(await answer).toMatchObject({ status: 200, connection: 'close' });
    await done;
  });

  it('closes a connection that stays idle once the grace has passed, and then resolves', async () => {
    await get('/');
    const started = Date.now();
    await drain.drain();
    const took = Date.now() - started;
    expect(took).toBeGreaterThanOrEqual(IDLE_GRACE_MS - 50);
    expect(took).toBeLessThan(IDLE_GRACE_MS + 4_000);
  });

  it('refuses new connections once the drain has started', async () => {
    void drain.drain();
    const refused = await new Promise<string | undefined>((resolve) => {
      const socket = connect(port, '127.0.0.1');
      socket.once('connect', () => {
        socket.destroy();
        resolve(undefined);
      });
      socket.once('error', (error: NodeJS.ErrnoException) => resolve(error.code));
    });
    expect(refused).toBe('ECONNREFUSED');
  });

  // the listener is closed with net.Server's close, not http.Server's (docs/adr/0006-library-internals.md)
  describe('with a grace longer than any test', () => {
    beforeAll(() => (grace = 600_000));
    afterAll(() => (grace = IDLE_GRACE_MS));

    function connectTo(): Promise<Socket> {
      return new Promise((resolve, reject) => {
        const socket = connect(port, '127.0.0.1', () => resolve(socket));
        socket.once('error', reject);
      });
    }

    /** Everything the server sends on `socket` until it closes the connection. */
    function readAll(socket: Socket): Promise<string> {
      let text = '';
      socket.setEncoding('latin1');
      socket.on('data', (chunk: string) => (text += chunk));
      return new Promise((resolve) => socket.once('close', () => resolve(text)));
    }

    it('keeps an idle keep-alive connection open for the grace: a request arriving on it is answered', async () => {
      expect(await get('/')).toMatchObject({ status: 200, connection: 'keep-alive', reused: false });
      void drain.drain();
      expect(await get('/')).toEqual({ status: 200, connection: 'close', reused: true });
    });

    it('answers a request written on an idle keep-alive connection in the same instant as the drain', async () => {
      const socket = await connectTo();
      const first = new Promise<void>((resolve) => socket.once('data', () => resolve()));
      socket.write('GET / HTTP/1.1\r\nHost: x\r\n\r\n');
      await first;
      const rest = readAll(socket);
      // the server reads these bytes only after the drain has begun
      socket.write('GET / HTTP/1.1\r\nHost: x\r\n\r\n');
      const done = drain.drain();
      const text = await rest;
      expect(text).toMatch(/^HTTP\/1\.1 200 OK\r\n/);
      expect(text).toMatch(/\r\nConnection: close\r\n/i);
      await done;
    });
  });

  it('cuts what is still open when told to, and counts it', async () => {
    const answer = get('/hold');
    await until('the request to arrive', () => held.length === 1, 5_000, 10);
    const done = drain.drain();
    expect(drain.cut()).toBe(1);
    expect((await answer).error).toBe('ECONNRESET');
    await done;
  });
});
