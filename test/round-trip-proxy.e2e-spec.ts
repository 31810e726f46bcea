import { once } from 'node:events';
import { AddressInfo, connect, createServer, Server, Socket } from 'node:net';
import { RoundTripProxy } from './support/round-trip-proxy';

/** A server that keeps what each connection sent and answers only when told to. */
class HeldServer {
  readonly connections: Array<{ socket: Socket; received: string }> = [];
  private readonly server: Server = createServer((socket) => {
    const connection = { socket, received: '' };
    this.connections.push(connection);
    socket.on('data', (chunk: Buffer) => {
      connection.received += chunk.toString('latin1');
      this.server.emit('received');
    });
    socket.on('error', () => undefined);
  });

  async start(): Promise<string> {
    this.server.listen(0, '127.0.0.1');
    await once(this.server, 'listening');
    return `postgres://user:secret@127.0.0.1:${(this.server.address() as AddressInfo).port}/db?sslmode=disable`;
  }

  /** Waits until connection `i` has received `text` in all. */
  async receivedAll(i: number, text: string): Promise<void> {
    for (let events = 0; events < 100; events++) {
      if (this.connections[i]?.received === text) return;
      await once(this.server, 'received');
    }
    throw new Error(`connection ${i} received ${JSON.stringify(this.connections[i]?.received)}`);
  }

  close(): Promise<void> {
    for (const { socket } of this.connections) socket.destroy();
    return new Promise((resolve) => this.server.close(() => resolve()));
  }
}

async function dial(port: number): Promise<Socket> {
  const socket = connect(port, '127.0.0.1');
  await once(socket, 'connect');
  return socket;
}

describe(RoundTripProxy.name, () => {
  let upstream: HeldServer;
  let upstreamUrl: string;
  let proxy: RoundTripProxy;

  beforeEach(async () => {
    upstream = new HeldServer();
    upstreamUrl = await upstream.start();
    proxy = await RoundTripProxy.start(upstreamUrl);
  });
  afterEach(async () => {
    await proxy.close();
    await upstream.close();
  });

  it('points a URL at itself, keeping user, password, database and options', () => {
    expect(proxy.url(upstreamUrl)).toBe(`postgres://user:secret@127.0.0.1:${proxy.port}/db?sslmode=disable`);
  });

  it('counts the writes sent before an answer as one round trip, on every connection', async () => {
    const client = await dial(proxy.port);
    // three chunks, each forwarded on its own before the next is written
    client.write('a');
    await upstream.receivedAll(0, 'a');
    client.write('b');
    await upstream.receivedAll(0, 'ab');
    client.write('c');
    await upstream.receivedAll(0, 'abc');
    expect(proxy.count).toBe(1);
    upstream.connections[0].socket.write('answer');
    expect(String(await once(client, 'data'))).toBe('answer');
    client.write('d');
    await upstream.receivedAll(0, 'abcd');
    expect(proxy.count).toBe(2);

    const other = await dial(proxy.port);
    other.write('e');
    await upstream.receivedAll(1, 'e');
    expect([proxy.count, proxy.opened, proxy.closed]).toEqual([3, 2, 0]);
    // a client's Terminate message (a pool closing an idle connection) waits for nothing
    upstream.connections[1].socket.write('answer');
    await once(other, 'data');
    other.write(Buffer.from([0x58, 0, 0, 0, 4]));
    await upstream.receivedAll(1, 'eX\0\0\0\x04');
    expect(proxy.count).toBe(3);
    client.destroy();
    other.destroy();
  });

  it('ends the client when the server goes, and the server when the client goes', async () => {
    const client = await dial(proxy.port);
    client.write('x');
    await upstream.receivedAll(0, 'x');
    const ended = once(client, 'close');
    upstream.connections[0].socket.end('bye');
    expect(String(await once(client, 'data'))).toBe('bye');
    await ended;

    const second = await dial(proxy.port);
    second.write('y');
    await upstream.receivedAll(1, 'y');
    const gone = once(upstream.connections[1].socket, 'close');
    second.destroy();
    await gone;
    expect(proxy.closed).toBe(2);
  });

  it('closes a client whose server cannot be reached, and keeps listening', async () => {
    await upstream.close();
    const client = await dial(proxy.port);
    client.on('error', () => undefined);
    client.write('z');
    await once(client, 'close');
    const again = await dial(proxy.port);
    again.on('error', () => undefined);
    await once(again, 'close');
    expect(proxy.opened).toBe(2);
  });

  it('close() ends every connection', async () => {
    const client = await dial(proxy.port);
    client.write('q');
    await upstream.receivedAll(0, 'q');
    const closed = once(client, 'close');
    await proxy.close();
    await closed;
  });
});
