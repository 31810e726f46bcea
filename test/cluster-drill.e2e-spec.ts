import { ClusterDrill } from '../scripts/cluster-drill';
import { OwnRedis } from './support/own-servers';
import { buildIfNeeded } from './support/server-process';
import { PG_URL } from './support/test-app';

/**
 * Many instances, one database (issue 28, point 3; docs/cluster-drill.md): a short run of
 * `npm run drill`. Three processes of the built server on one PostgreSQL schema and a Redis of
 * their own, behind a round-robin proxy, under load from 30 users; one is killed and restarted,
 * then each is stopped and started from a build with one more migration. Each check compares what
 * was answered with what the database, the SMS provider and the events hold, so none depends on
 * timing: the phases wait for calls to finish, not for time to pass.
 */
describe('cluster drill', () => {
  let redis: OwnRedis | undefined;
  let drill: ClusterDrill | undefined;

  beforeAll(() => buildIfNeeded(), 300_000);
  afterAll(async () => {
    await drill?.cleanUp();
    await redis?.stop();
  }, 180_000);

  it('loses no answered write, sends each code once, keeps limits and event sequences exact through a SIGKILL and a rolling upgrade', async () => {
    redis = await OwnRedis.start();
    drill = new ClusterDrill({
      pgUrl: PG_URL,
      redisUrl: redis.url,
      users: 30,
      concurrency: 8,
      steadySeconds: 2,
      callsPerPhase: 100,
    });
    const report = await drill.run();
    expect(report.failures).toEqual([]);

    // it did what it claims: every life of every instance answered, ended as it was told, and the last are the new build
    const lives = (
      report.figures.instances as Array<{ lives: Array<{ build: string; answered: number; exit?: object }> }>
    ).map((instance) =>
      instance.lives.map((life) => ({ build: life.build, answered: life.answered > 0, exit: life.exit })),
    );
    const stopped = { code: 0, signal: null };
    expect(lives).toEqual([
      [
        { build: 'old', answered: true, exit: stopped },
        { build: 'new', answered: true, exit: stopped },
      ],
      [
        { build: 'old', answered: true, exit: { code: null, signal: 'SIGKILL' } },
        { build: 'old', answered: true, exit: stopped },
        { build: 'new', answered: true, exit: stopped },
      ],
      [
        { build: 'old', answered: true, exit: stopped },
        { build: 'new', answered: true, exit: stopped },
      ],
    ]);
  }, 600_000);
});
