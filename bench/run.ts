/**
 * `npm run bench` — see bench/README.md. Builds the service if dist/ is stale, starts it as a
 * child process on a fresh database, seeds users in bulk, drives every scenario over REST, gRPC
 * (on its own port and on the HTTP port), gRPC-web and Connect at a fixed concurrency for a fixed
 * time, measures the framework ceilings in the same run, prints the table and writes it as JSON
 * under bench/results/. Everything it starts (servers, temporary folders, PostgreSQL databases) is
 * stopped and removed again, also on Ctrl-C.
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, release, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { PostgresWindow } from './lib/postgres-window';
import { formatSummary, summarize, type CpuProfile, type ProfileSummary } from './cpuprofile-summary';
import type { DriveOptions } from './lib/drivers';
import { cleanUpAll, CpuWindow, onCleanup } from './lib/processes';
import { checkTargets, Db, formatCount, formatTable, formatTargets, ResultRow } from './lib/report';
import {
  CEILING_OF,
  CeilingTransport,
  drive,
  DRIVER_OF,
  driveGrpcCeiling,
  driveNestCeilingAutocannon,
  driveNestCeilingHttpLoop,
  getUserWorkload,
  rightCodeWorkload,
  Scenario,
  SCENARIO_TITLES,
  SCENARIOS,
  setPhoneWorkload,
  Transport,
  TRANSPORTS,
  Workload,
  wrongCodeWorkload,
} from './lib/scenarios';
import {
  createPostgresDatabase,
  dropPostgresDatabase,
  parseHmacKey,
  postgresInstance,
  postgresUrl,
  SeededUsers,
  seedPostgres,
  seedSqlite,
  sqliteInstance,
} from './lib/seed';
import {
  AppServer,
  CeilingServer,
  newHmacKey,
  PHONE_CODE_MAX_ATTEMPTS,
  PHONE_CODE_TTL_MS,
  ROOT,
  startAppServer,
  startGrpcCeiling,
  startNestCeiling,
} from './lib/servers';
import type { RunMeasurement } from './lib/stats';

const USAGE = `npm run bench -- [options]

  --db sqlite|postgres|sqlite,postgres   database(s) to run on (default sqlite); postgres uses a fresh
                                         database bench_<random> on 127.0.0.1:5432 (user postgres), dropped after
  --duration S          seconds each measured run lasts (default 10)
  --connections N       requests in flight (default 64)
  --warmup S            unmeasured seconds at the start of each run, on the same connections (default 2)
  --scenarios LIST      ${SCENARIOS.join(',')} (default all)
  --transports LIST     ${TRANSPORTS.join(',')} (default all; rest only with --scaling
                        and --profile); connect: Connect JSON calls on the HTTP port; grpc-http:
                        gRPC on the HTTP port (HTTP/2 cleartext), grpc: on the gRPC port
  --rounds N            drive every transport N times in turn on the same server (default 1): each
                        round's rows are close in time, so ratios between transports can be taken
                        per round on a machine whose speed changes (not with --scaling / --profile)
  --quick               smoke run: 2 s runs, 0.5 s warm-up (and 1k,10k users with --scaling)
  --scaling             only the scaling runs: verify-wrong and get-user with 1k, 100k and 1M users
  --sizes LIST          user counts for --scaling (default 1000,100000,1000000)
  --pool N              the service's DATABASE_POOL_SIZE (default: the service's own default)
  --profile             run the server under node --cpu-prof for each chosen scenario (default: rest
                        verify-wrong and get-user) and summarise where its CPU time goes
  --max-rate N          req/s the per-user pools are sized for (default 4000); a run that uses its
                        pool up stops early and is marked *
  --log-level LEVEL     the server's LOG_LEVEL (default info, as in production)
  --no-ceilings         skip the ceiling runs
  --round-trips         PostgreSQL: count round trips through a proxy process between the service
                        and the database (a third busy process: it caps req/s on 2 cores)
  --keep                keep the temporary folder (databases, server logs)
  --help`;

interface Settings {
  dbs: Db[];
  durationS: number;
  connections: number;
  warmupS: number;
  scenarios: Scenario[];
  transports: Transport[];
  /** each scenario's transports are driven this many times in turn (round-robin) */
  rounds: number;
  quick: boolean;
  scaling: boolean;
  sizes: number[];
  profile: boolean;
  maxRate: number;
  logLevel: string;
  /** DATABASE_POOL_SIZE of the service; undefined: its default */
  poolSize?: number;
  ceilings: boolean;
  /** count PostgreSQL round trips through a proxy (--round-trips) */
  roundTrips: boolean;
  keep: boolean;
}

function list<T extends string>(
  value: string | undefined,
  allowed: readonly T[],
  fallback: readonly T[],
  flag: string,
): T[] {
  if (value === undefined) return [...fallback];
  const items = value
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  for (const item of items) {
    if (!allowed.includes(item as T)) throw new Error(`${flag}: unknown "${item}" (allowed: ${allowed.join(', ')})`);
  }
  return items as T[];
}

function positive(value: string | undefined, fallback: number, flag: string, integer = false): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isFinite(n) || n <= 0 || (integer && !Number.isInteger(n)))
    throw new Error(`${flag} must be a positive number`);
  return n;
}

function parseSettings(): Settings {
  const { values } = parseArgs({
    options: {
      db: { type: 'string' },
      duration: { type: 'string' },
      connections: { type: 'string' },
      warmup: { type: 'string' },
      scenarios: { type: 'string' },
      transports: { type: 'string' },
      rounds: { type: 'string' },
      quick: { type: 'boolean', default: false },
      scaling: { type: 'boolean', default: false },
      sizes: { type: 'string' },
      profile: { type: 'boolean', default: false },
      'max-rate': { type: 'string' },
      'log-level': { type: 'string' },
      pool: { type: 'string' },
      'no-ceilings': { type: 'boolean', default: false },
      'round-trips': { type: 'boolean', default: false },
      keep: { type: 'boolean', default: false },
      help: { type: 'boolean', default: false },
    },
    allowPositionals: false,
  });
  if (values.help) {
    process.stdout.write(`${USAGE}\n`);
    process.exit(0);
  }
  const quick = values.quick === true;
  const scaling = values.scaling === true;
  const profile = values.profile === true;
  const sizes = (values.sizes ?? (quick ? '1000,10000' : '1000,100000,1000000')).split(',').map((s) => {
    const n = Number(s.replace(/k$/i, '000').replace(/m$/i, '000000'));
    if (!Number.isInteger(n) || n < 1 || n > 9_000_000) throw new Error(`--sizes: "${s}" is not a user count`);
    return n;
  });
  const logLevel = values['log-level'] ?? 'info';
  if (!['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'].includes(logLevel)) {
    throw new Error('--log-level: fatal, error, warn, info, debug, trace or silent');
  }
  return {
    dbs: list(values.db, ['sqlite', 'postgres'] as const, ['sqlite'], '--db'),
    durationS: positive(values.duration, quick ? 2 : 10, '--duration'),
    connections: positive(values.connections, 64, '--connections', true),
    warmupS: values.warmup === '0' ? 0 : positive(values.warmup, quick ? 0.5 : 2, '--warmup'),
    scenarios: list(
      values.scenarios,
      SCENARIOS,
      scaling || profile ? (['verify-wrong', 'get-user'] as const) : SCENARIOS,
      '--scenarios',
    ),
    transports: list(
      values.transports,
      TRANSPORTS,
      scaling || profile ? (['rest'] as const) : TRANSPORTS,
      '--transports',
    ),
    rounds: positive(values.rounds, 1, '--rounds', true),
    quick,
    scaling,
    sizes,
    profile,
    maxRate: positive(values['max-rate'], 4000, '--max-rate', true),
    logLevel,
    poolSize: values.pool === undefined ? undefined : positive(values.pool, 10, '--pool', true),
    ceilings: values['no-ceilings'] !== true,
    roundTrips: values['round-trips'] === true,
    keep: values.keep === true,
  };
}

const log = (line: string) => process.stderr.write(`${line}\n`);

function driveOptions(settings: Settings): DriveOptions {
  return {
    connections: settings.connections,
    durationMs: settings.durationS * 1000,
    warmupMs: settings.warmupS * 1000,
  };
}

function buildIfNeeded(): void {
  execFileSync(process.execPath, [join(ROOT, 'scripts', 'build-if-needed.js')], { cwd: ROOT, stdio: 'inherit' });
}

// ---- databases ------------------------------------------------------------------------------

interface BenchDatabase {
  db: Db;
  url: string;
  file?: string;
  drop(): Promise<void>;
}

async function newDatabase(db: Db, dir: string): Promise<BenchDatabase> {
  if (db === 'sqlite') {
    const file = join(dir, 'phone-verify.sqlite');
    return {
      db,
      url: file,
      file,
      drop: async () => {
        for (const suffix of ['', '-wal', '-shm']) rmSync(`${file}${suffix}`, { force: true });
      },
    };
  }
  const name = `bench_${randomBytes(6).toString('hex')}`;
  await createPostgresDatabase(name);
  const forget = onCleanup(`drop database ${name}`, () => dropPostgresDatabase(name));
  log(`created PostgreSQL database ${name}`);
  return {
    db,
    url: postgresUrl(name),
    drop: async () => {
      forget();
      await dropPostgresDatabase(name);
    },
  };
}

interface Instance {
  database: BenchDatabase;
  dir: string;
  hmacKey: string;
  seeded: SeededUsers;
}

/** First start (migrations, admin token), stop, bulk seed `users`, ready to start again. */
async function prepareInstance(db: Db, dir: string, users: number, settings: Settings): Promise<Instance> {
  mkdirSync(dir, { recursive: true });
  const database = await newDatabase(db, dir);
  const hmacKey = newHmacKey();
  const first = await startAppServer({
    dir,
    databaseUrl: database.url,
    hmacKey,
    logLevel: settings.logLevel,
    poolSize: settings.poolSize,
  });
  await first.stop();
  const instance = database.file ? sqliteInstance(database.file) : await postgresInstance(database.url);
  const seedSettings = {
    count: users,
    orgId: instance.orgId,
    creatorId: instance.adminId,
    key: parseHmacKey(hmacKey),
    codeTtlMs: PHONE_CODE_TTL_MS,
  };
  let reported = 0;
  const progress = (done: number) => {
    if (done - reported >= 200_000 || done === users) {
      reported = done;
      log(`  seeded ${done} / ${users} users`);
    }
  };
  log(`[${db}] seeding ${formatCount(users)} users in bulk…`);
  const seeded = database.file
    ? seedSqlite(database.file, seedSettings, progress)
    : await seedPostgres(database.url, seedSettings, progress);
  log(`[${db}] seeded ${formatCount(users)} users (${seeded.rows} rows) in ${seeded.seconds.toFixed(1)} s`);
  return { database, dir, hmacKey, seeded };
}

function startInstance(instance: Instance, settings: Settings, cpuProfDir?: string): Promise<AppServer> {
  return startAppServer({
    dir: instance.dir,
    databaseUrl: instance.database.url,
    hmacKey: instance.hmacKey,
    logLevel: settings.logLevel,
    poolSize: settings.poolSize,
    cpuProfDir,
    countRoundTrips: settings.roundTrips,
  });
}

// ---- runs -----------------------------------------------------------------------------------

function row(
  kind: ResultRow['kind'],
  scenario: ResultRow['scenario'],
  title: string,
  transport: Transport,
  db: ResultRow['db'],
  users: number,
  m: RunMeasurement,
  peakRss: number,
  ceiling?: number,
): ResultRow {
  const reqPerSec = ((m.ok + m.errors) * 1000) / m.elapsedMs;
  return {
    kind,
    scenario,
    title,
    transport,
    driver: DRIVER_OF[transport],
    db,
    users,
    reqPerSec,
    ...(ceiling ? { ceilingReqPerSec: ceiling, ratio: reqPerSec / ceiling } : {}),
    p50Ms: m.latency.p50,
    p90Ms: m.latency.p90,
    p99Ms: m.latency.p99,
    maxMs: m.latency.max,
    ok: m.ok,
    errors: m.errors,
    errorKinds: m.errorKinds,
    peakRssMB: peakRss / 1024 / 1024,
    elapsedS: m.elapsedMs / 1000,
    ...(m.stoppedEarly ? { stoppedEarly: m.stoppedEarly } : {}),
  };
}

function describe(r: ResultRow): string {
  const ratio = r.ratio === undefined ? '' : ` (${r.ratio.toFixed(2)} × ceiling)`;
  const errors = r.errors ? `, ${r.errors} errors: ${r.errorKinds.slice(0, 3).join(' | ')}` : '';
  const early = r.stoppedEarly ? `, ${r.stoppedEarly} after ${r.elapsedS.toFixed(1)} s` : '';
  const cpu =
    r.serverCpuUs === undefined
      ? ''
      : `, CPU ${r.serverCpuUs.toFixed(0)} µs/req` +
        (r.dbCpuUs === undefined ? '' : ` + PostgreSQL ${r.dbCpuUs.toFixed(0)}`) +
        (r.walKBPerAnswer === undefined ? '' : `, WAL ${r.walKBPerAnswer.toFixed(1)} kB/req`) +
        (r.roundTripsPerAnswer === undefined ? '' : `, ${r.roundTripsPerAnswer.toFixed(2)} round trips/req`);
  return `${r.reqPerSec.toFixed(0)} req/s${ratio}, p50 ${r.p50Ms.toFixed(1)} ms, p99 ${r.p99Ms.toFixed(1)} ms, RSS ${r.peakRssMB.toFixed(0)} MB${cpu}${errors}${early}`;
}

/**
 * The two ceiling servers run for the whole bench and are measured twice, before and after the
 * scenarios; ratios use the mean of the two, and the difference shows how steady the machine was.
 */
class Ceilings {
  private nest?: CeilingServer;
  private grpc?: CeilingServer;
  readonly rows: ResultRow[] = [];

  constructor(private readonly settings: Settings) {}

  async start(dir: string): Promise<void> {
    const wanted = new Set(this.settings.transports.map((t) => CEILING_OF[t]));
    if (wanted.has('rest') || wanted.has('grpc-web')) this.nest = await startNestCeiling(dir);
    if (wanted.has('grpc')) this.grpc = await startGrpcCeiling(dir);
  }

  /** Measures every started ceiling once; returns req/s by the transport whose load generator drove it. */
  async measure(when: string, options: DriveOptions): Promise<Map<CeilingTransport, number>> {
    const measured = new Map<CeilingTransport, number>();
    const runs: Array<[CeilingTransport, CeilingServer, (o: DriveOptions) => Promise<RunMeasurement>]> = [];
    const wanted = new Set(this.settings.transports.map((t) => CEILING_OF[t]));
    const nest = this.nest;
    const grpc = this.grpc;
    if (nest && wanted.has('rest')) runs.push(['rest', nest, (o) => driveNestCeilingAutocannon(nest.port, o)]);
    if (nest && wanted.has('grpc-web')) runs.push(['grpc-web', nest, (o) => driveNestCeilingHttpLoop(nest.port, o)]);
    if (grpc) runs.push(['grpc', grpc, (o) => driveGrpcCeiling(grpc.port, o)]);
    for (const [transport, server, run] of runs) {
      const cpu = new CpuWindow(server.child.pid, false);
      const m = await run({
        ...options,
        onMeasureStart: () => {
          server.rss.window();
          cpu.start();
        },
      });
      const name = transport === 'grpc' ? 'ceiling-grpc-js' : 'ceiling-nest-express';
      const title = `${transport === 'grpc' ? 'ceiling: grpc-js unary' : 'ceiling: Nest+Express POST'} (${when})`;
      const r = {
        ...row('ceiling', name, title, transport, '-', 0, m, server.rss.windowPeak()),
        ...cpu.perAnswer(m.ok + m.errors),
      };
      log(`${title} via ${r.driver}: ${describe(r)}`);
      this.rows.push(r);
      measured.set(transport, r.reqPerSec);
    }
    return measured;
  }

  /** req/s of each ceiling (by the transport whose load generator drove it): the mean of the runs so far. */
  reqPerSec(): Map<CeilingTransport, number> {
    const sums = new Map<CeilingTransport, number[]>();
    for (const r of this.rows) {
      const t = CEILING_OF[r.transport];
      sums.set(t, [...(sums.get(t) ?? []), r.reqPerSec]);
    }
    return new Map([...sums].map(([t, values]) => [t, values.reduce((a, b) => a + b, 0) / values.length]));
  }

  async stop(): Promise<void> {
    await this.nest?.stop();
    await this.grpc?.stop();
  }
}

/** Users set aside for one (scenario, transport): index lists into the seeded users. */
type Pools = Map<string, number[]>;
const poolKey = (scenario: Scenario, transport: Transport, round = 1) => `${scenario}|${transport}|${round}`;

/** Sizes the per-user pools of the default run: enough users for `maxRate` req/s over warm-up + run. */
function planPools(settings: Settings): { pools: Pools; users: number } {
  const span = settings.durationS + settings.warmupS;
  const perScenario: Record<Scenario, number> = {
    'verify-right': Math.ceil(span * settings.maxRate),
    'verify-wrong': Math.ceil((span * settings.maxRate) / (PHONE_CODE_MAX_ATTEMPTS - 1)),
    'set-phone': 2000,
    'get-user': 0,
  };
  const pools: Pools = new Map();
  let next = 0;
  for (const scenario of settings.scenarios) {
    for (let round = 1; round <= settings.rounds; round++) {
      for (const transport of settings.transports) {
        const size = perScenario[scenario];
        pools.set(
          poolKey(scenario, transport, round),
          Array.from({ length: size }, (_, i) => next + i),
        );
        next += size;
      }
    }
  }
  const users = Math.max(next, 1000);
  // reads go to every user, in an order that jumps around the table
  const all = strided(users, users);
  for (let round = 1; round <= settings.rounds; round++) {
    for (const transport of settings.transports) pools.set(poolKey('get-user', transport, round), all);
  }
  return { pools, users };
}

function gcd(a: number, b: number): number {
  return b === 0 ? a : gcd(b, a % b);
}

/** `count` user indexes out of `users`, spread over the whole table. */
function strided(users: number, count: number): number[] {
  let step = 7919;
  while (gcd(step, users) !== 1) step += 2;
  return Array.from({ length: Math.min(count, users) }, (_, k) => (k * step) % users);
}

function workloadFor(scenario: Scenario, seeded: SeededUsers, pool: number[]): Workload {
  switch (scenario) {
    case 'verify-wrong':
      return wrongCodeWorkload(seeded, pool, PHONE_CODE_MAX_ATTEMPTS - 1);
    case 'verify-right':
      return rightCodeWorkload(seeded, pool);
    case 'set-phone':
      return setPhoneWorkload(seeded, pool);
    case 'get-user':
      return getUserWorkload(seeded, pool);
  }
}

/** Warm-up (unmeasured), then the measured run, on one workload; returns the row. */
async function runScenario(
  kind: 'scenario' | 'scaling',
  server: AppServer,
  db: Db,
  users: number,
  scenario: Scenario,
  transport: Transport,
  workload: Workload,
  ceilings: Map<CeilingTransport, number>,
  options: DriveOptions,
  onMeasuredWindow?: (fromUs: number, toUs: number) => void,
  round?: number,
): Promise<ResultRow> {
  const wrong = scenario === 'verify-wrong';
  let fromUs = 0;
  const cpu = new CpuWindow(server.child.pid, db === 'postgres');
  const wal =
    db === 'postgres' ? new PostgresWindow(server.databaseUrl, server.metricsPort, server.roundTrips) : undefined;
  const m = await drive(transport, server, workload, wrong, {
    ...options,
    onMeasureStart: () => {
      server.rss.window();
      fromUs = Number(process.hrtime.bigint() / 1000n);
      cpu.start();
      wal?.start(options.durationMs);
    },
  });
  onMeasuredWindow?.(fromUs, Number(process.hrtime.bigint() / 1000n));
  const r = row(
    kind,
    scenario,
    SCENARIO_TITLES[scenario],
    transport,
    db,
    users,
    m,
    server.rss.windowPeak(),
    ceilings.get(CEILING_OF[transport]),
  );
  Object.assign(r, cpu.perAnswer(m.ok + m.errors), wal ? await wal.perAnswer(m.ok + m.errors) : {});
  if (round !== undefined) Object.assign(r, { round, title: `${r.title} #${round}` });
  log(`[${db}${kind === 'scaling' ? ` ${formatCount(users)}` : ''}] ${r.title} over ${transport}: ${describe(r)}`);
  return r;
}

interface ProfileResult {
  scenario: Scenario;
  transport: Transport;
  db: Db;
  file: string;
  summary: ProfileSummary;
}

interface Output {
  rows: ResultRow[];
  seeding: Array<{ db: Db; users: number; rows: number; seconds: number; rssAfterStartMB?: number }>;
  profiles: ProfileResult[];
}

async function runDefault(
  db: Db,
  dir: string,
  settings: Settings,
  ceilings: Map<CeilingTransport, number>,
  out: Output,
  stamp: string,
) {
  const { pools, users } = planPools(settings);
  const instance = await prepareInstance(db, join(dir, db), users, settings);
  out.seeding.push({ db, users, rows: instance.seeded.rows, seconds: instance.seeded.seconds });
  const options = driveOptions(settings);
  try {
    if (!settings.profile) {
      const server = await startInstance(instance, settings);
      out.seeding[out.seeding.length - 1].rssAfterStartMB = server.rss.lifetimePeak() / 1024 / 1024;
      try {
        for (const scenario of settings.scenarios) {
          for (let round = 1; round <= settings.rounds; round++) {
            for (const transport of settings.transports) {
              const pool = pools.get(poolKey(scenario, transport, round))!;
              const workload = workloadFor(scenario, instance.seeded, pool);
              const r = await runScenario(
                'scenario',
                server,
                db,
                users,
                scenario,
                transport,
                workload,
                ceilings,
                options,
                undefined,
                settings.rounds > 1 ? round : undefined,
              );
              out.rows.push(r);
            }
          }
        }
      } finally {
        await server.stop();
      }
      return;
    }
    // --profile: one server per scenario, each under --cpu-prof, the profile cut to the measured window
    const profileDir = join(ROOT, 'bench', 'results', 'profiles');
    mkdirSync(profileDir, { recursive: true });
    for (const scenario of settings.scenarios) {
      for (const transport of settings.transports) {
        const cpuProfDir = join(dir, `profile-${db}-${scenario}-${transport}`);
        mkdirSync(cpuProfDir, { recursive: true });
        const server = await startInstance(instance, settings, cpuProfDir);
        let window: [number, number] = [0, 0];
        let r: ResultRow;
        try {
          const workload = workloadFor(scenario, instance.seeded, pools.get(poolKey(scenario, transport))!);
          r = await runScenario(
            'scenario',
            server,
            db,
            users,
            scenario,
            transport,
            workload,
            ceilings,
            options,
            (a, b) => {
              window = [a, b];
            },
          );
          out.rows.push(r);
        } finally {
          await server.stop();
        }
        // CPU.<date>.<time>.<pid>.<thread>.<seq>.cpuprofile: thread 0 is the main thread (the SQLite
        // checkpoint worker writes one of its own)
        const written = readdirSync(cpuProfDir).filter((f) => /^CPU\.\d+\.\d+\.\d+\.0\.\d+\.cpuprofile$/.test(f));
        if (written.length !== 1)
          throw new Error(`expected one main-thread .cpuprofile in ${cpuProfDir}, found ${written.length}`);
        const file = join(profileDir, `${stamp}-${db}-${scenario}-${transport}.cpuprofile`);
        const text = readFileSync(join(cpuProfDir, written[0]), 'utf8');
        writeFileSync(file, text);
        const summary = summarize(JSON.parse(text) as CpuProfile, {
          fromUs: window[0],
          toUs: window[1],
          requests: r.ok + r.errors,
          top: 30,
        });
        out.profiles.push({ scenario, transport, db, file, summary });
        process.stdout.write(
          `\n${formatSummary(`profile ${SCENARIO_TITLES[scenario]} over ${transport} on ${db}`, summary, 15)}\n`,
        );
      }
    }
  } finally {
    await instance.database.drop();
  }
}

async function runScaling(db: Db, dir: string, settings: Settings, out: Output, ceilings?: Ceilings) {
  const options = driveOptions(settings);
  for (const users of settings.sizes) {
    const instance = await prepareInstance(db, join(dir, `${db}-${users}`), users, settings);
    out.seeding.push({ db, users, rows: instance.seeded.rows, seconds: instance.seeded.seconds });
    try {
      // a ceiling right before each size's runs, so that a machine that got busier or quieter in between shows
      const ceiling = ceilings ? await ceilings.measure(`before ${db} ${formatCount(users)}`, options) : new Map();
      const server = await startInstance(instance, settings);
      out.seeding[out.seeding.length - 1].rssAfterStartMB = server.rss.lifetimePeak() / 1024 / 1024;
      try {
        for (const scenario of settings.scenarios) {
          for (const transport of settings.transports) {
            // the same number of guessing users at every size (1000, spread over the table): the runs do the same work
            const pool = scenario === 'verify-wrong' ? strided(users, 1000) : strided(users, users);
            const workload = workloadFor(scenario, instance.seeded, pool);
            out.rows.push(
              await runScenario('scaling', server, db, users, scenario, transport, workload, ceiling, options),
            );
          }
        }
      } finally {
        await server.stop();
      }
    } finally {
      await instance.database.drop();
      rmSync(instance.dir, { recursive: true, force: true });
    }
  }
}

function gitState(): { commit: string; dirtySrc: boolean } {
  try {
    const commit = execFileSync('git', ['rev-parse', 'HEAD'], { cwd: ROOT, encoding: 'utf8' }).trim();
    const status = execFileSync('git', ['status', '--porcelain', '--', 'src', 'proto'], {
      cwd: ROOT,
      encoding: 'utf8',
    });
    return { commit, dirtySrc: status.trim().length > 0 };
  } catch {
    return { commit: 'unknown', dirtySrc: false };
  }
}

function packageVersion(name: string): string {
  try {
    return (JSON.parse(readFileSync(join(ROOT, 'node_modules', name, 'package.json'), 'utf8')) as { version: string })
      .version;
  } catch {
    return 'unknown';
  }
}

async function main(): Promise<void> {
  const settings = parseSettings();
  const started = new Date();
  const stamp = started.toISOString().replace(/[:.]/g, '-');
  buildIfNeeded();
  const dir = mkdtempSync(join(tmpdir(), 'phone-verify-bench-'));
  if (!settings.keep) onCleanup('remove temporary folder', async () => rmSync(dir, { recursive: true, force: true }));
  else log(`keeping ${dir}`);
  log(
    `bench: ${settings.scaling ? 'scaling' : settings.profile ? 'profile' : 'scenarios'} on ${settings.dbs.join(', ')}, ` +
      `${settings.durationS} s runs after ${settings.warmupS} s warm-up, ${settings.connections} in flight, ` +
      `${cpus().length} cores, Node ${process.version}`,
  );

  const options = driveOptions(settings);
  const out: Output = { rows: [], seeding: [], profiles: [] };
  const loadBefore = loadavg();
  const ceilings = new Ceilings(settings);
  if (settings.ceilings) await ceilings.start(dir);
  const measureCeilings = settings.ceilings && !settings.scaling;
  if (measureCeilings) await ceilings.measure('before', options);
  for (const db of settings.dbs) {
    if (settings.scaling) await runScaling(db, dir, settings, out, settings.ceilings ? ceilings : undefined);
    else await runDefault(db, dir, settings, ceilings.reqPerSec(), out, stamp);
  }
  if (settings.scaling && settings.ceilings) {
    await ceilings.stop();
    out.rows.unshift(...ceilings.rows);
  }
  if (measureCeilings) {
    await ceilings.measure('after', options);
    await ceilings.stop();
    // ratios against the mean of the ceiling runs before and after
    const mean = ceilings.reqPerSec();
    for (const r of out.rows) {
      const ceiling = mean.get(CEILING_OF[r.transport]);
      if (r.kind === 'scenario' && ceiling)
        Object.assign(r, { ceilingReqPerSec: ceiling, ratio: r.reqPerSec / ceiling });
    }
    out.rows.unshift(...ceilings.rows);
  }
  const loadAfter = loadavg();

  const targets = checkTargets(out.rows, settings.connections);
  const cpu = cpus();
  const report = {
    date: started.toISOString(),
    machine: {
      cores: cpu.length,
      cpu: cpu[0]?.model ?? 'unknown',
      memoryGB: Math.round(totalmem() / 1024 ** 3),
      os: `${process.platform} ${release()}`,
      /** 1, 5 and 15 minute load averages: other work on the machine skews absolute numbers. */
      loadAverageBefore: loadBefore,
      loadAverageAfter: loadAfter,
    },
    node: process.version,
    versions: {
      autocannon: packageVersion('autocannon'),
      '@grpc/grpc-js': packageVersion('@grpc/grpc-js'),
      '@nestjs/core': packageVersion('@nestjs/core'),
      typeorm: packageVersion('typeorm'),
    },
    git: gitState(),
    settings: {
      ...settings,
      server: {
        NODE_ENV: 'production',
        LOG_LEVEL: settings.logLevel,
        DATABASE_POOL_SIZE: settings.poolSize ?? 'default',
        PHONE_CODE_MAX_ATTEMPTS,
        PHONE_MAX_FAILED_PER_DAY: 1000,
        PHONE_CODE_TTL: '24h',
        SMS_PROVIDER: 'none',
      },
    },
    seeding: out.seeding,
    results: out.rows,
    targets,
    profiles: out.profiles.map((p) => ({ ...p, file: p.file.replace(`${ROOT}/`, '') })),
  };
  const resultsDir = join(ROOT, 'bench', 'results');
  mkdirSync(resultsDir, { recursive: true });
  const file = join(resultsDir, `${stamp}.json`);
  writeFileSync(file, `${JSON.stringify(report, null, 2)}\n`);

  const load = (l: number[]) => l.map((n) => n.toFixed(1)).join(' ');
  const machine =
    `${cpu.length} cores (${report.machine.cpu}), Node ${process.version}, ${started.toISOString().slice(0, 10)}, ` +
    `load average ${load(loadBefore)} before, ${load(loadAfter)} after`;
  process.stdout.write(`\n${machine}; ${settings.connections} in flight, ${settings.durationS} s per run\n`);
  process.stdout.write(`${formatTable(out.rows)}\n`);
  // only the load before the start says something about other work: during a run the server, the
  // load generator and PostgreSQL's backends are more runnable processes than two cores by themselves
  if (loadBefore[0] > cpu.length) {
    process.stdout.write(
      `warning: the load average was above the ${cpu.length} cores when the bench started: other work ` +
        'competed with it, so absolute numbers (and, less so, the ratios) are skewed\n',
    );
  }
  if (out.seeding.length > 0) {
    process.stdout.write(
      `seeding: ${out.seeding
        .map(
          (s) =>
            `${s.db} ${formatCount(s.users)} users (${s.rows} rows) in ${s.seconds.toFixed(1)} s` +
            (s.rssAfterStartMB ? `, server RSS after start ${s.rssAfterStartMB.toFixed(0)} MB` : ''),
        )
        .join('; ')}\n`,
    );
  }
  if (targets.length > 0) process.stdout.write(`targets (issues 6 and 25):\n${formatTargets(targets)}\n`);
  process.stdout.write(`results: ${file.replace(`${ROOT}/`, '')}\n`);
  if (existsSync(dir) && settings.keep) process.stdout.write(`kept: ${dir}\n`);
}

let stopping = false;
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    if (stopping) return;
    stopping = true;
    log(`\n${signal}: stopping everything the bench started…`);
    void cleanUpAll().finally(() => process.exit(130));
  });
}

main()
  .then(() => cleanUpAll())
  .then(() => process.exit(0))
  .catch(async (error: unknown) => {
    log(`bench failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
    await cleanUpAll();
    process.exit(1);
  });
