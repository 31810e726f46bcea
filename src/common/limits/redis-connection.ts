import { Cluster, ClusterOptions, Redis, RedisOptions } from 'ioredis';
import { parseRedisUrl, RedisTarget } from './redis-url';

/**
 * Every command has a deadline and nothing waits for a connection: while Redis is unreachable a
 * command fails at once (no offline queue, no retry of a command whose connection broke), a
 * frozen Redis costs a command REDIS_TIMEOUT. Reconnecting goes on in the background.
 */
export function redisOptions(timeoutMs: number): RedisOptions {
  return {
    commandTimeout: timeoutMs,
    connectTimeout: timeoutMs,
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    // a limit script sent again after a reconnect could count a hit twice
    autoResendUnfulfilledCommands: false,
    retryStrategy: reconnectDelay,
    // a primary demoted under us (a failover): connect again, to the new one; the command fails (503)
    reconnectOnError: (error) => error.message.startsWith('READONLY'),
  };
}

const reconnectDelay = (times: number) => Math.min(times * 100, 1_000);

/** The app's Redis client: one connection (a server, or the primary a Sentinel set names), or a Cluster's. */
export type RedisClient = Redis | Cluster;

/**
 * What every key the stores write starts with. In a Cluster, one hash tag puts all of them in one
 * slot: a limit check reads and counts the keys of a user and of a number in one script, which a
 * Cluster runs only on keys of one slot (docs/redis.md, "Redis Cluster").
 */
export function keyPrefix(client: RedisClient): string {
  return client.isCluster ? '{pv}:' : 'pv:';
}

/** The primaries to SCAN: every one of a Cluster's, or the one server. */
export function scanTargets(client: RedisClient): Redis[] {
  return client instanceof Cluster ? client.nodes('master') : [client];
}

/** Clients closed by closeRedisClient: their end is meant. */
const closing = new WeakSet<RedisClient>();

/**
 * The app's one Redis client, for REDIS_URL: one server, or the primary that a Sentinel set names
 * (asked again on every reconnect; a +switch-master from a sentinel drops the connection at once,
 * so that no write goes on to a primary the sentinels replaced). Not connected yet when returned;
 * closed with closeRedisClient.
 */
export function createRedisClient(url: string, timeoutMs: number): RedisClient {
  const target = parseRedisUrl(url);
  if (target.kind === 'cluster') return new Cluster(target.nodes, clusterOptions(target, timeoutMs));
  const { server, options } = redisClientOptions(url, timeoutMs);
  if (server) return new Redis(server, options);
  const client = new Redis(options);
  // ioredis (5.11) gives up for good ('end') when a +switch-master arrives while it is asking a
  // sentinel for the primary: the notice cancels that attempt and nothing retries it. Start again.
  client.on('end', () => {
    if (closing.has(client)) return;
    setTimeout(() => {
      if (!closing.has(client) && client.status === 'end') client.connect().catch(() => undefined);
    }, reconnectDelay(1));
  });
  return client;
}

/** QUIT (replies still due arrive), then, for Sentinel, close the subscriptions QUIT leaves open (ioredis#1362). */
export async function closeRedisClient(client: RedisClient): Promise<void> {
  closing.add(client);
  const quit = await client.quit().then(
    () => true,
    () => false,
  );
  if (!quit || (client instanceof Redis && client.options.sentinels)) client.disconnect();
}

/**
 * A Cluster client with the same rules: nothing queued while a node is away, and no command sent
 * twice: ioredis would send a command again after its connection closed (retryDelayOnFailover)
 * or after CLUSTERDOWN (retryDelayOnClusterDown), and a limit script sent again could count a hit
 * twice; both are answered 503 instead. MOVED, ASK and TRYAGAIN are followed: the node refused
 * the command without running it. The slot map is read again every second, so that a promoted
 * replica is found soon after a failover.
 */
export function clusterOptions(target: Extract<RedisTarget, { kind: 'cluster' }>, timeoutMs: number): ClusterOptions {
  return {
    enableOfflineQueue: false,
    enableReadyCheck: true,
    scaleReads: 'master',
    retryDelayOnFailover: 0,
    retryDelayOnClusterDown: 0,
    retryDelayOnTryAgain: 100,
    maxRedirections: 16,
    slotsRefreshTimeout: timeoutMs,
    slotsRefreshInterval: 1_000,
    clusterRetryStrategy: reconnectDelay,
    redisOptions: { ...redisOptions(timeoutMs), username: target.username, password: target.password },
  };
}

/** What createRedisClient gives ioredis for one server or a Sentinel set: the server's URL with the options, or options naming the sentinels. */
export function redisClientOptions(url: string, timeoutMs: number): { server?: string; options: RedisOptions } {
  const target = parseRedisUrl(url);
  if (target.kind === 'cluster') throw new Error('a Cluster URL is given to new Cluster(), not to new Redis()');
  const options = redisOptions(timeoutMs);
  if (target.kind === 'server') return { server: target.url, options };
  return {
    options: {
      ...options,
      sentinels: target.sentinels,
      name: target.name,
      role: 'master',
      username: target.username,
      password: target.password,
      db: target.db,
      sentinelPassword: target.sentinelPassword,
      sentinelCommandTimeout: timeoutMs,
      sentinelRetryStrategy: reconnectDelay,
      failoverDetector: true,
      // a connection being dropped is destroyed if not closed 100 ms later (ioredis waits 2 s):
      // a hung primary is left at once after a +switch-master
      disconnectTimeout: 100,
    },
  };
}
