/** Where REDIS_URL points: one server (ioredis reads the URL itself), a Sentinel set or a Cluster. */
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
    }
  | {
      kind: 'cluster';
      /** the seed list: any of the cluster's nodes; the client learns the others from them */
      nodes: Array<{ host: string; port: number }>;
      username?: string;
      password?: string;
    };

/** The ports a sentinel and a data server listen on by default. */
const SENTINEL_PORT = 26379;
const SERVER_PORT = 6379;

export const REDIS_URL_FORMS =
  'REDIS_URL must be a redis:// or rediss:// URL, redis+sentinel://[[user]:password@]host:port[,host:port…]/master-name[?db=N&sentinelPassword=…] or redis+cluster://[[user]:password@]host:port[,host:port…]';

const SENTINEL_FORM = /^redis\+sentinel:\/\/(?:([^@/?#]*)@)?([^@/?#]+)\/([^/?#]+)(?:\?([^#]*))?$/;
const CLUSTER_FORM = /^redis\+cluster:\/\/(?:([^@/?#]*)@)?([^@/?#]+)\/?(?:\?([^#]*))?$/;
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
  const cluster = CLUSTER_FORM.exec(url);
  if (cluster) {
    const [, userInfo, hostList, query] = cluster;
    if (query) throw new Error('REDIS_URL names a Redis Cluster, which takes no parameters (a cluster has only db 0)');
    return { kind: 'cluster', nodes: hostPorts(hostList, SERVER_PORT, 'a node'), ...credentials(userInfo) };
  }
  const form = SENTINEL_FORM.exec(url);
  if (!form) throw new Error(REDIS_URL_FORMS);
  const [, userInfo, hostList, encodedName, query] = form;
  const target: RedisTarget = {
    kind: 'sentinel',
    sentinels: hostPorts(hostList, SENTINEL_PORT, 'a sentinel'),
    name: decode(encodedName, 'the master name'),
    db: 0,
    ...credentials(userInfo),
  };
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

/** "host:port,host:port…" (IPv6 in brackets; `defaultPort` when a port is left out). */
function hostPorts(list: string, defaultPort: number, what: string): Array<{ host: string; port: number }> {
  return list.split(',').map((entry) => {
    const hostPort = HOST_PORT.exec(entry);
    const port = Number(hostPort?.[3] ?? defaultPort);
    if (!hostPort || port < 1 || port > 65535) {
      throw new Error(`REDIS_URL has "${entry}" where ${what}'s host:port belongs (port 1–65535)`);
    }
    return { host: hostPort[1] ?? hostPort[2], port };
  });
}

/** "user:password" before the "@", each percent-decoded. */
function credentials(userInfo: string | undefined): { username?: string; password?: string } {
  if (userInfo === undefined) return {};
  const found: { username?: string; password?: string } = {};
  const colon = userInfo.indexOf(':');
  const username = colon < 0 ? userInfo : userInfo.slice(0, colon);
  if (username) found.username = decode(username, 'the user name');
  if (colon >= 0) found.password = decode(userInfo.slice(colon + 1), 'the password');
  return found;
}

function decode(text: string, what: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    throw new Error(`REDIS_URL has ${what} not percent-encoded correctly`);
  }
}
