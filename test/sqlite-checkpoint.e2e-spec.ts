import { statSync } from 'node:fs';
import { DataSource } from 'typeorm';
import { dataSourceOptions } from '../src/database/data-source-options';
import { CHECKPOINT_INTERVAL_MS, SqliteCheckpointer } from '../src/database/sqlite-checkpointer';
import { createHuman } from './support/factories';
import { dataSourceOf, startApp, TestApp } from './support/test-app';
import { until } from './support/wait';

describe('SQLite checkpoints off the event loop', () => {
  let t: TestApp;
  const pragma = async (name: string) => Object.values((await dataSourceOf(t).query(`PRAGMA ${name}`))[0])[0];

  beforeAll(async () => {
    t = await startApp('sqlite', { THROTTLE_LIMIT: '0' });
  }, 60_000);
  afterAll(() => t?.close(), 60_000);

  it("turns the connection's own checkpoints off and lets the worker copy the log into the file", async () => {
    expect(await pragma('wal_autocheckpoint')).toBe(0);
    const file = t.env.DATABASE_URL;
    const before = statSync(file).size;
    for (let i = 0; i < 40; i++) await createHuman(t, { phone: `+41 79 ${String(1_000_000 + i)}` });
    const checkpointer = t.app.get(SqliteCheckpointer);
    await until('a checkpoint', () => (checkpointer.lastReport?.checkpointed ?? 0) > 0, 20 * CHECKPOINT_INTERVAL_MS);
    // the pages the users were written to reached the database file itself, not just the log
    await until('the database file to grow', () => statSync(file).size > before, 20 * CHECKPOINT_INTERVAL_MS);
  });

  it('stops the worker when the app closes, and the file holds everything written', async () => {
    const users = Number((await dataSourceOf(t).query('SELECT COUNT(*) AS n FROM users'))[0].n);
    const file = t.env.DATABASE_URL;
    await t.app.close();
    const reopened = new DataSource(dataSourceOptions({ url: file, poolSize: 1 }));
    await reopened.initialize();
    try {
      expect(Number((await reopened.query('SELECT COUNT(*) AS n FROM users'))[0].n)).toBe(users);
      // a connection of its own checkpoints as SQLite does by default
      expect((await reopened.query('PRAGMA wal_autocheckpoint'))[0]).toEqual({ wal_autocheckpoint: 1000 });
    } finally {
      await reopened.destroy();
    }
  });
});
