/** Where REDIS_URL points: one server (ioredis reads the URL itself), or a Sentinel set. */
export type RedisTarget =
  | { kind: 'server'; url: string }
  | {
      kind: 'sentinel';
      sentinels: Array<{ host: string; port: number }>;
      /** the master's name, as the sentinels monitor it */
      name: string;
      username?: string;
      password?: string;
      sentinelPassword?: string;
      db: number;
    };

/** The ports a sentinel listens on by default. */
const SENTINEL_PORT = 26379;

export const REDIS_URL_FORMS =
  'REDIS_URL must be a redis:// or rediss:// URL, or redis+sentinel://[[user]:password@]host:port[,host:port…]/master-name[?db=N&sentinelPassword=…]';

const CLUSTER_REFUSED =
  'REDIS_URL names redis+cluster:// (Redis Cluster), which is not supported: the limit scripts update keys of several users and numbers at once, which a Cluster refuses across hash slots; use redis+sentinel:// for failover (docs/redis.md)';

const SENTINEL_FORM = /^redis\+sentinel:\/\/(?:([^@/?#]*)@)?([^@/?#]+)\/([^/?#]+)(?:\?([^#]*))?$/;
const HOST_PORT = /^(?:\[([0-9A-Fa-f:.]+)\]|([A-Za-z0-9_.-]+))(?::(\d{1,5}))?$/;

/** What is wrong with `url` (one line that names REDIS_URL), or undefined when it can be used. */
export function redisUrlProblem(url: string): string | undefined {
  try {
    parseRedisUrl(url);
    return undefined;
  } catch (error) {
    return (error as Error).message;
  }
}

/** Throws an Error whose message names REDIS_URL and says what is wrong (never a password). */
export function parseRedisUrl(url: string): RedisTarget {
  if (/^rediss?:\/\/.+/.test(url)) return { kind: 'server', url };
  if (/^redis\+cluster:/i.test(url)) throw new Error(CLUSTER_REFUSED);
  const form = SENTINEL_FORM.exec(url);
  if (!form) throw new Error(REDIS_URL_FORMS);
  const [, userInfo, hostList, encodedName, query] = form;
  const sentinels = hostList.split(',').map((entry) => {
    const hostPort = HOST_PORT.exec(entry);
    const port = Number(hostPort?.[3] ?? SENTINEL_PORT);
    if (!hostPort || port < 1 || port > 65535) {
      throw new Error(`REDIS_URL has "${entry}" where a sentinel's host:port belongs (port 1–65535)`);
    }
    return { host: hostPort[1] ?? hostPort[2], port };
  });
  const target: RedisTarget = { kind: 'sentinel', sentinels, name: decode(encodedName, 'the master name'), db: 0 };
  if (userInfo !== undefined) {
    const colon = userInfo.indexOf(':');
    const username = colon < 0 ? userInfo : userInfo.slice(0, colon);
    if (username) target.username = decode(username, 'the user name');
    if (colon >= 0) target.password = decode(userInfo.slice(colon + 1), 'the password');
  }
  for (const [key, value] of new URLSearchParams(query ?? '')) {
    if (key === 'db' && /^\d{1,5}$/.test(value)) target.db = Number(value);
    else if (key === 'sentinelPassword' && value) target.sentinelPassword = value;
    else
      throw new Error(
        `REDIS_URL has a parameter "${key}" that is not understood, or its value (db=N, sentinelPassword=…)`,
      );
  }
  return target;
}

function decode(text: string, what: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    throw new Error(`REDIS_URL has ${what} not percent-encoded correctly`);
  }
}
