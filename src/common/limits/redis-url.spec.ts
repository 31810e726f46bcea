import { validateEnvironment } from '../../app.config';
import { Cluster, Redis } from 'ioredis';
import { clusterOptions, keyPrefix, redisClientOptions, redisOptions } from './redis-connection';
import { parseRedisUrl, REDIS_URL_FORMS } from './redis-url';

describe('parseRedisUrl', () => {
  it('leaves a redis:// or rediss:// URL to ioredis', () => {
    expect(parseRedisUrl('redis://:pw@127.0.0.1:6380/2')).toEqual({
      kind: 'server',
      url: 'redis://:pw@127.0.0.1:6380/2',
    });
    expect(parseRedisUrl('rediss://cache.example')).toEqual({ kind: 'server', url: 'rediss://cache.example' });
  });

  it('reads a Sentinel set: the sentinels, the master name, credentials and db', () => {
    expect(
      parseRedisUrl(
        'redis+sentinel://app:p%40ss@10.0.0.1:26380,sentinel-2,[::1]:26381/my%20master?db=3&sentinelPassword=s%3Acret',
      ),
    ).toEqual({
      kind: 'sentinel',
      sentinels: [
        { host: '10.0.0.1', port: 26380 },
        { host: 'sentinel-2', port: 26379 },
        { host: '::1', port: 26381 },
      ],
      name: 'my master',
      username: 'app',
      password: 'p@ss',
      sentinelPassword: 's:cret',
      db: 3,
    });
    expect(parseRedisUrl('redis+sentinel://:pw@s1:1/m')).toEqual({
      kind: 'sentinel',
      sentinels: [{ host: 's1', port: 1 }],
      name: 'm',
      password: 'pw',
      db: 0,
    });
  });

  it('reads a Cluster seed list and its credentials', () => {
    expect(parseRedisUrl('redis+cluster://app:p%40ss@10.0.0.1:7000,node-2,[::1]:7002')).toEqual({
      kind: 'cluster',
      nodes: [
        { host: '10.0.0.1', port: 7000 },
        { host: 'node-2', port: 6379 },
        { host: '::1', port: 7002 },
      ],
      username: 'app',
      password: 'p@ss',
    });
    expect(parseRedisUrl('redis+cluster://n1:7000/')).toEqual({ kind: 'cluster', nodes: [{ host: 'n1', port: 7000 }] });
  });

  it.each([
    ['http://x', REDIS_URL_FORMS],
    ['redis+sentinel://s1:26379', REDIS_URL_FORMS],
    ['redis+sentinel://s1:26379/', REDIS_URL_FORMS],
    ['rediss+sentinel://s1:26379/m', REDIS_URL_FORMS],
    ['redis+sentinel://s1:70000/m', 'REDIS_URL has "s1:70000" where a sentinel\'s host:port belongs (port 1–65535)'],
    ['redis+sentinel://s1:1,,s2:2/m', 'REDIS_URL has "" where a sentinel\'s host:port belongs (port 1–65535)'],
    ['redis+sentinel://s1:1/m?db=x', 'REDIS_URL has a parameter "db" that is not understood, or its value'],
    ['redis+sentinel://s1:1/m?password=secret', 'REDIS_URL has a parameter "password" that is not understood'],
    ['redis+sentinel://:%zz@s1:1/m', 'REDIS_URL has the password not percent-encoded correctly'],
    ['rediss+cluster://n1:7000', REDIS_URL_FORMS],
    ['redis+cluster://', REDIS_URL_FORMS],
    ['redis+cluster://n1:0', 'REDIS_URL has "n1:0" where a node\'s host:port belongs (port 1–65535)'],
    ['redis+cluster://n1:7000?db=2', 'REDIS_URL names a Redis Cluster, which takes no parameters'],
  ])('refuses %s and says why', (url, message) => {
    expect(() => parseRedisUrl(url)).toThrow(message);
  });

  it('never repeats a parameter’s value, which may be a password', () => {
    expect(() => parseRedisUrl('redis+sentinel://s1:1/m?sentinelpassword=hunter2')).toThrow(
      expect.objectContaining({ message: expect.not.stringContaining('hunter2') }),
    );
  });
});

describe('REDIS_URL at start-up', () => {
  it.each(['redis+sentinel://:pw@127.0.0.1:26379,127.0.0.1:26380/mymaster', 'redis+cluster://:pw@127.0.0.1:7000'])(
    'accepts %s',
    (url) => {
      expect(validateEnvironment({ REDIS_URL: url }).redis.url).toBe(url);
    },
  );

  it.each([
    ['redis+sentinel://127.0.0.1:26379', `REDIS_URL: ${REDIS_URL_FORMS}`],
    ['redis+cluster://127.0.0.1:7000?db=1', 'REDIS_URL: REDIS_URL names a Redis Cluster, which takes no parameters'],
    ['redis+sentinel://h:0/m', 'REDIS_URL: REDIS_URL has "h:0" where a sentinel\'s host:port belongs'],
  ])('refuses %s with one line naming REDIS_URL', (url, line) => {
    let problems: string[] = [];
    try {
      validateEnvironment({ REDIS_URL: url });
    } catch (error) {
      problems = (error as { problems: string[] }).problems;
    }
    expect(problems).toHaveLength(1);
    expect(problems[0].startsWith(line)).toBe(true);
  });
});

describe('clusterOptions', () => {
  it('gives each node the app’s deadlines and sends no command twice: a closed connection or CLUSTERDOWN is an error', () => {
    const options = clusterOptions({ kind: 'cluster', nodes: [{ host: 'n1', port: 1 }], password: 'pw' }, 700);
    expect(options).toMatchObject({
      enableOfflineQueue: false,
      scaleReads: 'master',
      retryDelayOnFailover: 0,
      retryDelayOnClusterDown: 0,
      slotsRefreshTimeout: 700,
      redisOptions: {
        password: 'pw',
        commandTimeout: 700,
        connectTimeout: 700,
        enableOfflineQueue: false,
        maxRetriesPerRequest: 0,
        autoResendUnfulfilledCommands: false,
      },
    });
  });

  it('puts every key of a Cluster in one slot, and leaves one server’s keys as they were', () => {
    expect(keyPrefix(new Cluster([{ host: '127.0.0.1', port: 1 }], { lazyConnect: true }))).toBe('{pv}:');
    expect(keyPrefix(new Redis({ lazyConnect: true }))).toBe('pv:');
  });
});

describe('redisClientOptions', () => {
  it('gives a Sentinel client the app’s deadlines, no offline queue and the failover detector', () => {
    const { server, options } = redisClientOptions(
      'redis+sentinel://:pw@127.0.0.1:1/mymaster?sentinelPassword=spw',
      700,
    );
    expect(server).toBeUndefined();
    expect(options).toMatchObject({
      sentinels: [{ host: '127.0.0.1', port: 1 }],
      name: 'mymaster',
      role: 'master',
      password: 'pw',
      sentinelPassword: 'spw',
      db: 0,
      commandTimeout: 700,
      connectTimeout: 700,
      sentinelCommandTimeout: 700,
      enableOfflineQueue: false,
      maxRetriesPerRequest: 0,
      autoResendUnfulfilledCommands: false,
      failoverDetector: true,
    });
    expect(options.retryStrategy!(1)).toBe(100);
    expect(options.sentinelRetryStrategy!(30)).toBe(1_000);
  });

  it('gives a single server the same options, and its URL', () => {
    const { server, options } = redisClientOptions('redis://127.0.0.1:1', 700);
    expect(server).toBe('redis://127.0.0.1:1');
    expect(Object.keys(options).sort()).toEqual(Object.keys(redisOptions(700)).sort());
    expect(options).toMatchObject({ commandTimeout: 700, connectTimeout: 700, enableOfflineQueue: false });
  });

  it('reconnects when a command meets a read-only replica (a primary demoted under the client), and only then', () => {
    const { options } = redisClientOptions('redis://127.0.0.1:1', 700);
    const reconnect = options.reconnectOnError as (error: Error) => boolean;
    expect(reconnect(new Error("READONLY You can't write against a read only replica."))).toBe(true);
    expect(reconnect(new Error('ERR wrong number of arguments'))).toBe(false);
  });
});
