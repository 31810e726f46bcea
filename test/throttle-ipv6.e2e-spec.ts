import { Redis } from 'ioredis';
import { bearer, startApp, TestApp } from './support/test-app';

jest.setTimeout(60_000);

const REDIS_URL = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';
const THROTTLE_ENV = { THROTTLE_LIMIT: '5', THROTTLE_WINDOW: '60s', TRUSTED_PROXIES: '127.0.0.1' };
const USER_PATH = '/v2/users/1';

/** A /64 of the documentation range nobody else in this run uses. */
function random64(): string {
  const group = () => Math.floor(Math.random() * 0x10000).toString(16);
  return `2001:db8:${group()}:${group()}`;
}

/**
 * Issue 26, finding 4: the per-client throttle counts an IPv6 client by its /64 (anyone holding one
 * has 2^64 addresses to rotate through), an IPv4 client by its address, and an IPv4-mapped IPv6
 * address as the IPv4 address.
 */
describe.each([
  ['in memory', {}],
  ['in Redis', { REDIS_URL }],
])('per-client throttling of IPv6 clients (%s)', (_name, storeEnv: Record<string, string>) => {
  let t: TestApp;
  let redis: Redis | undefined;
  const prefixes: string[] = [];

  beforeAll(async () => {
    t = await startApp('sqlite', { ...THROTTLE_ENV, ...storeEnv });
    if (storeEnv.REDIS_URL) redis = new Redis(storeEnv.REDIS_URL);
  }, 60_000);
  afterAll(async () => {
    if (redis) {
      const keys = (await redis.keys('pv:throttle*')).filter((key) => prefixes.some((p) => key.includes(p)));
      if (keys.length) await redis.del(...keys);
      redis.disconnect();
    }
    await t?.close();
  }, 60_000);

  const get = (forwardedFor: string) =>
    t.http().get(USER_PATH).set(bearer(t.adminToken)).set('X-Forwarded-For', forwardedFor);

  it('throttles 40 addresses of one /64 like one address: 5 answered, 35 refused', async () => {
    const net = random64();
    prefixes.push(net);
    const statuses: number[] = [];
    for (let i = 0; i < 40; i++)
      statuses.push((await get(`${net}:${((i * 7919) % 0x10000).toString(16)}::${i + 1}`)).status);
    expect(statuses).toEqual([...Array<number>(5).fill(404), ...Array<number>(35).fill(429)]);
    // the neighbouring /64 is another client, with a budget of its own
    const [a, b, c, d] = net.split(':');
    const neighbour = `${a}:${b}:${c}:${(parseInt(d, 16) ^ 1).toString(16)}`;
    prefixes.push(neighbour);
    await get(`${neighbour}::1`).expect(404);
  });

  it('counts IPv4 per address, and an IPv4-mapped IPv6 address as its IPv4 address', async () => {
    const octet = () => Math.floor(Math.random() * 250) + 1;
    const v4 = `10.${octet()}.${octet()}.${octet()}`;
    prefixes.push(v4);
    const spellings = [v4, `::ffff:${v4}`, v4, `::ffff:${v4}`, v4];
    for (const address of spellings) await get(address).expect(404);
    expect((await get(`::ffff:${v4}`)).status).toBe(429);
    expect((await get(v4)).status).toBe(429);
    // the next IPv4 address is another client
    const [w, x, y, z] = v4.split('.').map(Number);
    const next = `${w}.${x}.${y}.${z === 255 ? 254 : z + 1}`;
    prefixes.push(next);
    await get(next).expect(404);
  });
});
