import { Agent, createServer, request, Server, ServerResponse } from 'node:http';
import { AddressInfo, connect } from 'node:net';
import { HttpDrain, IDLE_GRACE_MS } from './http-drain';

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
  /** requests to /hold wait here until the test answers them */
  const held: ServerResponse[] = [];

  beforeEach(async () => {
    server = createServer((req, res) => {
      if (req.url === '/hold') held.push(res);
      else res.end('ok');
    });
    drain = new HttpDrain(server);
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

  const until = async (check: () => boolean) => {
    for (let i = 0; i < 500 && !check(); i++) await new Promise((resolve) => setTimeout(resolve, 10));
    expect(check()).toBe(true);
  };

  it('answers a request in flight when the drain starts, with Connection: close, then resolves', async () => {
    const answer = get('/hold');
    await until(() => held.length === 1);
    let drained = false;
    const done = drain.drain().then(() => (drained = true));
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(drained).toBe(false);
    held[0].end('late');
    expect(await answer).toMatchObject({ status: 200, connection: 'close' });
    await done;
  });

  it('keeps an idle keep-alive connection open for the grace: a request arriving on it is answered', async () => {
    expect(await get('/')).toMatchObject({ status: 200, connection: 'keep-alive', reused: false });
    void drain.drain();
    expect(await get('/')).toEqual({ status: 200, connection: 'close', reused: true });
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

  it('cuts what is still open when told to, and counts it', async () => {
    const answer = get('/hold');
    await until(() => held.length === 1);
    const done = drain.drain();
    expect(drain.cut()).toBe(1);
    expect((await answer).error).toBe('ECONNRESET');
    await done;
  });
});
