import type { Redis } from 'ioredis';
import { closeRedisClient, createRedisClient } from '../src/common/limits/redis-connection';
import { OwnSentinelSet } from './support/own-sentinel';
import { orNotYet, until } from './support/wait';
import { FAILOVER_ENV, failoverUnderLoad } from './support/redis-failover';
import { startApp, TestApp } from './support/test-app';

describe('The Sentinel client (createRedisClient)', () => {
  let set: OwnSentinelSet | undefined;
  let client: Redis | undefined;

  beforeAll(async () => {
    set = await OwnSentinelSet.start();
  }, 120_000);

  afterAll(async () => {
    if (client && client.status !== 'end') await closeRedisClient(client);
    await set?.stop();
  }, 60_000);

  it('connects to the primary the sentinels name, starts again after an end it was not asked for, and closes for good', async () => {
    client = createRedisClient(set!.url, 1_000) as Redis;
    client.on('error', () => undefined);
    await until('ready', () => client!.status === 'ready', 10_000, 100);
    expect(await client.set('pv:test', '1')).toBe('OK');
    expect(String(await client.call('INFO', 'server'))).toContain(`tcp_port:${set!.dataPorts[0]}\r\n`);

    // ioredis ends the client when a failover notice cancels an attempt to reach the primary; any
    // end but closeRedisClient's is followed by a new start
    const unasked = new Promise((resolve) => client!.once('end', resolve));
    client.disconnect();
    await unasked;
    await until('ready again', () => client!.status === 'ready', 10_000, 100);
    expect(await client.get('pv:test')).toBe('1');

    const ended = new Promise((resolve) => client!.once('end', resolve));
    await closeRedisClient(client);
    await ended;
    expect(client.status).toBe('end');
  }, 60_000);
});

/**
 * The limits in Redis behind a Sentinel set (REDIS_URL=redis+sentinel://…) while its primary
 * dies or hangs and the sentinels promote the replica. Before the failover the test holds the
 * primary's writes and waits for the replica to have every acknowledged one (CLIENT PAUSE WRITE,
 * WAIT 1): replication is asynchronous, and a write answered in the last moment before a crash
 * can be lost (docs/redis.md); here none is, so every count must be exact afterwards.
 */
describe.each([
  ['dies (SIGKILL)', 'kill'],
  ['hangs (SIGSTOP), its connections open', 'freeze'],
  // the app asks that sentinel first and waits REDIS_TIMEOUT on it when a +switch-master comes
  // from the others: ioredis then ends the client for good, which the factory starts again
  ['dies while the sentinel the app asks first hangs', 'kill-with-sentinel-hung'],
] as const)('Limits in Redis through Sentinel: the primary %s', (_, how) => {
  let set: OwnSentinelSet | undefined;
  let t: TestApp | undefined;

  beforeAll(async () => {
    set = await OwnSentinelSet.start();
    t = await startApp('postgres', { REDIS_URL: set.url, ...FAILOVER_ENV });
  }, 120_000);

  afterAll(async () => {
    await t?.close();
    await set?.stop();
  }, 60_000);

  it('answers normally or 503 during the failover, normally after it, and every count survives it', async () => {
    const [primary, replica] = set!.dataPorts;
    await failoverUnderLoad(t!, async () => {
      // nothing acknowledged is lost: the writes in flight wait, the replica has all the others
      await set!.holdWritesAndSync(primary, replica);
      if (how === 'freeze') set!.freeze(primary);
      else await set!.kill(primary);
      const sentinels = [...set!.sentinelPorts];
      if (how === 'kill-with-sentinel-hung') set!.freeze(sentinels.shift()!);
      await until(
        'every sentinel naming the replica as the primary',
        orNotYet(async () => (await set!.primaryPerSentinel(sentinels)).every((port) => port === replica)),
        60_000,
        100,
      );
      expect((await set!.replication(replica)).role).toBe('master');
    });
  }, 240_000);
});

// ioredis 5.11 drops a failover detector's subscriptions twice after a failover or an unasked end
// (the second time on connections already closed) and arms a 2 s timer each time; they destroy
// nothing, but would keep jest from exiting within its second
afterAll(() => new Promise((resolve) => setTimeout(resolve, 2_100)));
