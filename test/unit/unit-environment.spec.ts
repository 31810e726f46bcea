import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { createServer as createHttpServer, get } from 'node:http';
import { connect, createServer } from 'node:net';
import { UNIT_REFUSAL } from '../support/unit-environment';

/** The unit project's guard (test/support/unit-environment.ts) holds for every way out of the process. */
describe('the unit project', () => {
  it('refuses a TCP connection, as a database or Redis client would open one', () => {
    expect(() => connect(5432, '127.0.0.1')).toThrow(UNIT_REFUSAL);
  });

  it('refuses an HTTP request, with node:http or fetch', async () => {
    expect(() => get('http://127.0.0.1:8080/')).toThrow(UNIT_REFUSAL);
    await expect(fetch('http://127.0.0.1:8080/')).rejects.toThrow(
      expect.objectContaining({ cause: expect.objectContaining({ message: expect.stringContaining(UNIT_REFUSAL) }) }),
    );
  });

  it('refuses to listen on a port or a socket', () => {
    expect(() => createHttpServer().listen(0)).toThrow(UNIT_REFUSAL);
    expect(() => createServer().listen(0, '127.0.0.1')).toThrow(UNIT_REFUSAL);
    expect(() => createServer().listen('/tmp/unit.sock')).toThrow(UNIT_REFUSAL);
  });

  it('refuses UDP', () => {
    const socket = createSocket('udp4');
    expect(() => socket.bind(0)).toThrow(UNIT_REFUSAL);
    expect(() => socket.send('x', 9, '127.0.0.1')).toThrow(UNIT_REFUSAL);
  });

  it('refuses to start a process, such as a redis-server', () => {
    expect(() => spawn('redis-server')).toThrow(UNIT_REFUSAL);
    expect(() => spawnSync('true')).toThrow(UNIT_REFUSAL);
    expect(() => execFileSync('true')).toThrow(UNIT_REFUSAL);
  });

  it("does not see the integration project's servers", () => {
    expect([process.env.TEST_PG_URL, process.env.TEST_REDIS_URL]).toEqual([undefined, undefined]);
  });
});
