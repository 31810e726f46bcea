/**
 * Cluster drill (docs/cluster-drill.md): three instances of the built server on one PostgreSQL
 * schema and one Redis, behind a round-robin proxy, under load from many users; one instance is
 * killed (SIGKILL) and restarted, then each is stopped (SIGTERM) and started from a new build whose
 * migration adds a column and an index. Then the answers, the database, the SMS sent and the events
 * are checked against each other.
 *
 *   npm run drill -- --duration 60      # PostgreSQL and Redis of its own; see --help
 */
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { OwnPostgres, OwnRedis } from '../test/support/own-servers';
import { ClusterDrill, ROOT } from './cluster-drill/drill';

export { ClusterDrill, type DrillOptions, type DrillReport } from './cluster-drill/drill';

const USAGE = `npm run drill -- [options]

  --duration <s>       seconds of load before the kill (default 20)
  --users <n>          users (default 30, or 2 per second of --duration: each plays at most --rounds rounds)
  --concurrency <n>    users in a round at the same time (default 8)
  --calls <n>          calls to finish in each phase before the next disruption (default 300)
  --rounds <n>         rounds per user at most (default 150: under the drill's per-user SMS and failure limits)
  --pg-url <url>       a PostgreSQL database to make the drill's schema in; default: a PostgreSQL of its own
  --redis-url <url>    a Redis no one else uses; default: a redis-server of its own
  --keep               keep the temporary folder (instance logs, the new build)
`;

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      duration: { type: 'string', default: '20' },
      users: { type: 'string' },
      concurrency: { type: 'string', default: '8' },
      calls: { type: 'string', default: '300' },
      rounds: { type: 'string', default: '150' },
      'pg-url': { type: 'string' },
      'redis-url': { type: 'string' },
      keep: { type: 'boolean', default: false },
      help: { type: 'boolean', default: false },
    },
  });
  if (values.help) {
    process.stdout.write(USAGE);
    return 0;
  }
  const log = (line: string) => process.stdout.write(`[drill] ${line}\n`);
  execFileSync(process.execPath, [join(ROOT, 'scripts/build-if-needed.js')], { cwd: ROOT, stdio: 'inherit' });
  const number = (name: string, text: string, max: number) => {
    const value = Number(text);
    if (!Number.isInteger(value) || value < 1 || value > max)
      throw new Error(`--${name} must be an integer from 1 to ${max}`);
    return value;
  };
  const duration = number('duration', values.duration, 3600);
  const options = {
    steadySeconds: duration,
    users: number('users', values.users ?? String(Math.max(30, 2 * duration)), 999),
    concurrency: number('concurrency', values.concurrency, 64),
    callsPerPhase: number('calls', values.calls, 1_000_000),
    maxRoundsPerUser: number('rounds', values.rounds, 150),
  };
  const cleanups: Array<() => Promise<void> | void> = [];
  let drill: ClusterDrill | undefined;
  let cleaned: Promise<void> | undefined;
  const cleanUp = () =>
    (cleaned ??= (async () => {
      await drill?.cleanUp();
      for (const cleanup of cleanups.reverse()) await cleanup();
    })());
  process.once('SIGINT', () => void cleanUp().finally(() => process.exit(130)));
  try {
    let pgUrl = values['pg-url'];
    if (pgUrl === undefined) {
      const pg = await OwnPostgres.start();
      cleanups.push(() => pg.destroy());
      log(`PostgreSQL of its own on 127.0.0.1:${pg.port}`);
      pgUrl = pg.url;
    }
    let redisUrl = values['redis-url'];
    if (redisUrl === undefined) {
      const redis = await OwnRedis.start();
      cleanups.push(() => redis.stop());
      log(`redis-server of its own on 127.0.0.1:${redis.port}`);
      redisUrl = redis.url;
    }
    drill = new ClusterDrill({ pgUrl, redisUrl, ...options, keep: values.keep, log });
    const started = Date.now();
    const report = await drill.run();
    log(`done in ${((Date.now() - started) / 1000).toFixed(1)} s`);
    process.stdout.write(`${JSON.stringify(report.figures, null, 2)}\n`);
    if (report.dir) log(`kept ${report.dir}`);
    if (report.failures.length === 0) {
      log('every check passed');
      return 0;
    }
    log(`${report.failures.length} check(s) failed:`);
    for (const failure of report.failures) process.stdout.write(`  - ${failure}\n`);
    return 1;
  } finally {
    await cleanUp();
  }
}

if (require.main === module) {
  main().then(
    (code) => process.exit(code),
    (error: unknown) => {
      process.stderr.write(`${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
      process.exit(1);
    },
  );
}
