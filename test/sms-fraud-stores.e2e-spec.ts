import { Redis } from 'ioredis';
import { redisOptions } from '../src/common/limits/limits.module';
import { Database } from '../src/database/sql';
import { DatabaseSmsFraudStore } from '../src/phone/fraud/database-fraud-store';
import { RedisSmsFraudStore } from '../src/phone/fraud/redis-fraud-store';
import { SmsFraudCountsRepository } from '../src/phone/fraud/sms-fraud-counts.repository';
import { DAY, FraudSubject, HOUR, SmsFraudStore } from '../src/phone/fraud/sms-fraud-store';
import { OwnRedis } from './support/own-servers';
import { DATABASES, dataSourceOf, startApp, TestApp } from './support/test-app';

jest.setTimeout(60_000);

const REMEMBER = 30 * DAY;
const T0 = Date.UTC(2026, 2, 10, 12, 5);

const subject = (overrides: Partial<FraudSubject> = {}): FraudSubject => ({
  country: 'CH',
  prefix: '+4179555',
  address: '198.51.100.23',
  numberHash: 'hash-of-one-number',
  ...overrides,
});

/** One contract, both stores: what the guard relies on. */
function contract(
  name: string,
  setup: () => Promise<{ store: SmsFraudStore; run: <T>(work: (tx: any) => Promise<T>) => Promise<T> }>,
) {
  describe(name, () => {
    let store: SmsFraudStore;
    let run: <T>(work: (tx: any) => Promise<T>) => Promise<T>;

    beforeAll(async () => {
      ({ store, run } = await setup());
    });

    const history = (s: FraudSubject, at: number, rememberSince = at - REMEMBER) =>
      run((tx) => store.history(tx, s, new Date(at), new Date(rememberSince)));

    it('counts sends and verifications by country, prefix, address and the address’s countries, in the hour', async () => {
      const s = subject({ country: 'LI', prefix: '+4237', address: '192.0.2.1' });
      for (let i = 0; i < 3; i++) await run((tx) => store.countSend(tx, s, new Date(T0 + i * 60_000)));
      await run((tx) => store.countVerified(tx, s, new Date(T0), new Date(T0 + HOUR)));
      const hour = Math.floor(T0 / HOUR) * HOUR;
      const seen = await history(s, T0 + HOUR);
      const bucket = [{ hour, sent: 3, verified: 1 }];
      expect(seen.country).toEqual(bucket);
      expect(seen.prefix).toEqual(bucket);
      expect(seen.address).toEqual(bucket);
      expect([...seen.addressCountries]).toEqual([['LI', bucket]]);
      expect(seen.numberVerified).toBe(true);
    });

    it('keeps the hours apart, and the address’s countries apart', async () => {
      const s = subject({ country: 'AT', prefix: '+43660', address: '192.0.2.2' });
      await run((tx) => store.countSend(tx, s, new Date(T0)));
      await run((tx) => store.countSend(tx, s, new Date(T0 + HOUR)));
      await run((tx) => store.countSend(tx, { ...s, country: 'DE', prefix: '+49151' }, new Date(T0 + HOUR)));
      const seen = await history(s, T0 + HOUR);
      expect(seen.country.map((b) => b.sent)).toEqual([1, 1]);
      expect([...seen.addressCountries.keys()].sort()).toEqual(['AT', 'DE']);
    });

    it('reads no hour older than 14 days', async () => {
      const s = subject({ country: 'FR', prefix: '+33612', address: '192.0.2.3' });
      await run((tx) => store.countSend(tx, s, new Date(T0)));
      expect((await history(s, T0 + 14 * DAY - HOUR)).country).toHaveLength(1);
      expect((await history(s, T0 + 15 * DAY)).country).toHaveLength(0);
    });

    it('knows only the numbers verified, and none whose hash differs', async () => {
      const s = subject({ numberHash: 'verified-one' });
      await run((tx) => store.countVerified(tx, s, new Date(T0), new Date(T0)));
      expect((await history(s, T0)).numberVerified).toBe(true);
      expect((await history({ ...s, numberHash: 'another' }, T0)).numberVerified).toBe(false);
    });

    it('counts a send without an address under country and prefix only', async () => {
      const s = subject({ country: 'IT', prefix: '+39347', address: undefined });
      await run((tx) => store.countSend(tx, s, new Date(T0)));
      const seen = await history(s, T0);
      expect([seen.country.length, seen.prefix.length, seen.address.length, seen.addressCountries.size]).toEqual([
        1, 1, 0, 0,
      ]);
    });
  });
}

describe.each(DATABASES)('the database store (%s)', (db) => {
  let t: TestApp;
  let store: DatabaseSmsFraudStore;
  beforeAll(async () => {
    t = await startApp(db);
    store = new DatabaseSmsFraudStore(t.app.get(SmsFraudCountsRepository), REMEMBER);
  }, 60_000);
  afterAll(() => t?.close(), 60_000);

  contract('contract', async () => ({ store, run: (work) => t.app.get(Database).transaction(work) }));

  it('forgets hours older than 15 days and numbers older than the memory, with the first send of an hour', async () => {
    const s = subject({ country: 'ES', prefix: '+34612', address: '192.0.2.9', numberHash: 'old-number' });
    const run = <T>(work: (tx: any) => Promise<T>) => t.app.get(Database).transaction(work);
    await run((tx) => store.countSend(tx, s, new Date(T0)));
    await run((tx) => store.countVerified(tx, s, new Date(T0), new Date(T0)));
    const rows = async () =>
      Number(
        (
          await dataSourceOf(t).query(
            `SELECT count(*) AS n FROM sms_fraud_counts WHERE key LIKE '%192.0.2.9%' OR key = 'c:ES'`,
          )
        )[0].n,
      );
    expect(await rows()).toBeGreaterThan(0);
    await run((tx) =>
      store.countSend(tx, { ...s, country: 'PT', prefix: '+35191', address: '192.0.2.10' }, new Date(T0 + 31 * DAY)),
    );
    expect(await rows()).toBe(0);
    const numbers = await dataSourceOf(t).query(
      `SELECT number_hash FROM sms_verified_numbers WHERE number_hash = 'old-number'`,
    );
    expect(numbers).toEqual([]);
  });

  it('treats a number verified before the memory as not verified', async () => {
    const s = subject({ numberHash: 'remembered' });
    const run = <T>(work: (tx: any) => Promise<T>) => t.app.get(Database).transaction(work);
    await run((tx) => store.countVerified(tx, s, new Date(T0), new Date(T0)));
    const seen = (since: number) => run((tx) => store.history(tx, s, new Date(T0 + DAY), new Date(since)));
    expect((await seen(T0)).numberVerified).toBe(true);
    expect((await seen(T0 + 1)).numberVerified).toBe(false);
  });
});

describe('the Redis store', () => {
  let own: OwnRedis;
  let redis: Redis;
  let store: RedisSmsFraudStore;
  beforeAll(async () => {
    own = await OwnRedis.start();
    redis = new Redis(own.url, redisOptions(1_000));
    await new Promise((resolve) => redis.once('ready', resolve));
    store = new RedisSmsFraudStore(redis, REMEMBER);
  }, 60_000);
  afterAll(async () => {
    redis?.disconnect();
    await own?.stop();
  });

  contract('contract', async () => ({ store, run: (work) => work(undefined) }));

  it('keeps each counter 15 days after its last write, and a verified number for the memory', async () => {
    const s = subject({ country: 'BE', prefix: '+32470', address: '192.0.2.20', numberHash: 'ttl-number' });
    await store.countVerified(undefined as never, s, new Date(), new Date());
    const ttl = await redis.pttl('pv:fraud:c:BE');
    expect(ttl).toBeGreaterThan(15 * DAY - 60_000);
    expect(ttl).toBeLessThanOrEqual(15 * DAY);
    expect(await redis.pttl('pv:fraud:n:ttl-number')).toBeGreaterThan(REMEMBER - 60_000);
  });

  it('forgets the hours before the cutoff when a new hour is first written', async () => {
    const s = subject({ country: 'NL', prefix: '+31612', address: '192.0.2.21' });
    await store.countSend(undefined as never, s, new Date(T0));
    await store.countSend(undefined as never, s, new Date(T0 + HOUR));
    expect(await redis.hlen('pv:fraud:c:NL')).toBe(2);
    await store.countSend(undefined as never, s, new Date(T0 + 16 * DAY));
    expect(Object.keys(await redis.hgetall('pv:fraud:c:NL'))).toEqual([
      `s:${Math.floor((T0 + 16 * DAY) / HOUR) * HOUR}`,
    ]);
    expect(Object.keys(await redis.hgetall('pv:fraud:ac:192.0.2.21|'))).toHaveLength(1);
  });

  it('fails with a dependency error when Redis does not answer', async () => {
    const away = new Redis('redis://127.0.0.1:1', {
      ...redisOptions(200),
      lazyConnect: true,
      retryStrategy: () => null,
    });
    try {
      const broken = new RedisSmsFraudStore(away, REMEMBER);
      await expect(broken.countSend(undefined as never, subject(), new Date())).rejects.toMatchObject({
        dependency: 'redis',
      });
      await expect(broken.history(undefined as never, subject(), new Date())).rejects.toMatchObject({
        dependency: 'redis',
      });
    } finally {
      away.disconnect();
    }
  });
});
