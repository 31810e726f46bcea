import Redis from 'ioredis';
import { Client } from 'pg';
import { PG_URL } from './support/test-app';

/** `npm test` brings its own servers (test/support/global-setup.ts): nothing started by hand. */
describe('the servers the test run starts for itself', () => {
  const embedded = process.env.TEST_PG_EMBEDDED === '1';

  it('PostgreSQL is the embedded cluster on a port of its own, unless TEST_PG_URL named one', async () => {
    expect(PG_URL).toBe(process.env.TEST_PG_URL);
    const client = new Client({ connectionString: PG_URL });
    await client.connect();
    try {
      const { rows } = await client.query<{ dir: string }>(`SELECT current_setting('data_directory') AS dir`);
      if (embedded) {
        expect(new URL(PG_URL).port).not.toBe('5432');
        expect(rows[0].dir).toContain('pv-test-pg-');
      }
    } finally {
      await client.end();
    }
  });

  it('Redis is a redis-server of the run on a free port, not the shared 6379', async () => {
    const url = process.env.TEST_REDIS_URL!;
    expect(new URL(url).port).not.toBe('6379');
    const redis = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 1 });
    try {
      await redis.connect();
      expect(await redis.ping()).toBe('PONG');
    } finally {
      redis.disconnect();
    }
  });
});
