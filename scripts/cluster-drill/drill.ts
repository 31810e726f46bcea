/**
 * The drill itself (docs/cluster-drill.md), run by scripts/cluster-drill.ts and by
 * test/cluster-drill.e2e-spec.ts: three instances on one PostgreSQL schema and one Redis behind a
 * round-robin proxy, a SIGKILL and a restart, then a rolling upgrade to a build with one more
 * migration, all under load; then the checks.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from 'pg';
import { FakeHttpServer } from '../../test/support/fake-http';
import { freePort } from '../../test/support/free-port';
import { RoundRobinProxy } from '../../test/support/round-robin-proxy';
import { checkAnswers, checkExits, checkLimits, checkSequences, checkSms, checkUpgrade, checkWrites } from './checks';
import { httpJson } from './http';
import { Build, Instance, prepareNewBuild, Upgrade } from './instances';
import { Load, SmsInbox } from './load';

/** The checkout: its dist/ is the old build, and the new one is made from it. */
export const ROOT = join(__dirname, '..', '..');

export interface DrillOptions {
  /** a PostgreSQL database the drill may create a schema in (and drops it afterwards) */
  pgUrl: string;
  /** a Redis of the drill's own: the limits and throttle counters of the cluster */
  redisUrl: string;
  instances?: number;
  users?: number;
  /** users in a round at the same time */
  concurrency?: number;
  /** seconds of load before the kill (and at least `callsPerPhase` calls) */
  steadySeconds?: number;
  /** calls to finish in each phase before the next disruption */
  callsPerPhase?: number;
  maxRoundsPerUser?: number;
  /** keep the temporary folder (instance logs, the new build) */
  keep?: boolean;
  log?: (line: string) => void;
}

export interface DrillReport {
  failures: string[];
  figures: Record<string, unknown>;
  /** the temporary folder, when kept */
  dir?: string;
}

const MAX_ATTEMPTS = 3;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** One run of the drill; `cleanUp()` ends whatever it started, also after a failure or a timeout. */
export class ClusterDrill {
  readonly runId = randomBytes(3).toString('hex');
  readonly schema = `drill_${this.runId}`;
  private readonly options: Required<Omit<DrillOptions, 'log'>> & Pick<DrillOptions, 'log'>;
  private readonly dir = mkdtempSync(join(tmpdir(), 'pv-drill-'));
  private readonly instances: Instance[] = [];
  private readonly inbox = new SmsInbox();
  private readonly sms = new FakeHttpServer();
  private proxy?: RoundRobinProxy;
  private load?: Load;
  private schemaCreated = false;
  private phase = 'start';
  private readonly phases: Array<{ name: string; startedAt: number }> = [];
  private readonly killed = new Set<string>();
  private cleaned?: Promise<void>;

  constructor(options: DrillOptions) {
    this.options = {
      instances: 3,
      users: 30,
      concurrency: 8,
      steadySeconds: 5,
      callsPerPhase: 150,
      maxRoundsPerUser: 150,
      keep: false,
      ...options,
    };
  }

  async run(): Promise<DrillReport> {
    const o = this.options;
    const log = o.log ?? (() => undefined);
    const failures: string[] = [];
    await this.createSchema();
    this.sms.handler = (message) => {
      this.inbox.take(message);
      return { status: 200 };
    };
    await this.sms.start();
    const env = this.instanceEnv();
    for (let i = 0; i < o.instances; i++) {
      // each life sends its SMS to a path of its own: the fake provider knows which process sent what
      const webhook = (life: number) => ({ SMS_WEBHOOK_URL: `${this.sms.url}/sms/${i}/${life}` });
      this.instances.push(new Instance(i, await freePort(), await freePort(), env, this.dir, webhook));
    }
    const old: Build = { name: 'old', root: ROOT };
    const { build: next, upgrade } = prepareNewBuild(ROOT, this.dir);

    // all at once on an empty schema: one migrates under the lock, one sets the instance up
    const t0 = Date.now();
    await Promise.all(this.instances.map((instance) => instance.start(old)));
    log(`${o.instances} instances ready in ${Date.now() - t0} ms (schema ${this.schema})`);
    this.proxy = await RoundRobinProxy.start(this.instances.map((i) => ({ host: '127.0.0.1', port: i.port })));
    const token = readFileSync(env.FIRST_INSTANCE_PAT_PATH, 'utf8').trim();
    const load = new Load({
      baseUrl: this.proxy.url,
      token,
      userCount: o.users,
      concurrency: o.concurrency,
      maxRoundsPerUser: o.maxRoundsPerUser,
      maxAttempts: MAX_ATTEMPTS,
      runId: this.runId,
      inbox: this.inbox,
      phase: () => this.phase,
    });
    this.load = load;
    await load.createUsers();
    log(`${o.users} users created through the proxy`);

    load.start();
    this.enter('steady');
    const steadyUntil = Date.now() + o.steadySeconds * 1000;
    await load.progress(o.callsPerPhase, 'steady load');
    while (Date.now() < steadyUntil && !load.exhausted) await sleep(100);

    const victim = this.instances[Math.min(1, o.instances - 1)];
    this.enter(`kill ${victim.index}`);
    this.killed.add(`${victim.index}:${victim.lives.length - 1}`);
    await victim.kill();
    log(`instance ${victim.index} killed (SIGKILL)`);
    await load.progress(Math.ceil(o.callsPerPhase / 2), 'one instance down');
    this.enter(`restart ${victim.index}`);
    await victim.start(old);
    this.enter(`restarted ${victim.index}`);
    await load.progress(o.callsPerPhase, 'after the restart');

    for (const instance of this.instances) {
      this.enter(`upgrade ${instance.index}: stop`);
      await instance.stop();
      this.enter(`upgrade ${instance.index}: start`);
      await instance.start(next);
      this.enter(`upgrade ${instance.index}: done`);
      log(`instance ${instance.index} on the new build`);
      await load.progress(o.callsPerPhase, `the upgrade of instance ${instance.index}`);
    }

    this.enter('drain');
    await load.stop();
    const db = await this.connect();
    try {
      await this.outboxDrained(db);
      this.enter('direct');
      // each instance, not the proxy, answers a read and a round of its own on the new build
      for (const instance of this.instances) {
        const user = load.users[instance.index % load.users.length];
        const read = await httpJson(`${instance.url}/v2/users/${user.id}`, {
          headers: { Authorization: `Bearer ${token}` },
        });
        if (read.status !== 200) failures.push(`instance ${instance.index}: GetUserByID answered ${read.status}`);
        await load.roundVia(user, instance.url);
      }
      await this.outboxDrained(db);
      this.enter('checks');
      checkAnswers(load.users, failures);
      const events = await checkSequences(db, failures);
      await checkWrites(db, load.users, events, failures);
      checkLimits(load.users, MAX_ATTEMPTS, failures);
      const sms = await checkSms(db, load.users, this.inbox, events, this.killed, failures);
      await checkUpgrade(db, this.schema, upgrade, this.instances, failures);
      const outbox = await db.query(
        'SELECT status, count(*)::int AS n FROM sms_outbox GROUP BY status ORDER BY status',
      );
      // the stops are checked once the last lives ended too
      await this.stopInstances();
      checkExits(this.instances, this.killed, failures);
      const figures = this.figures(
        load,
        { ...sms, outbox: Object.fromEntries(outbox.rows.map((r) => [r.status, r.n])) },
        upgrade,
      );
      return { failures, figures, ...(o.keep ? { dir: this.dir } : {}) };
    } finally {
      await db.end();
    }
  }

  /** Stops everything the run started, drops its schema and removes its folder (unless kept). */
  cleanUp(): Promise<void> {
    this.cleaned ??= (async () => {
      const workers = this.load?.abort().catch(() => undefined);
      await this.stopInstances();
      await workers;
      await this.proxy?.close().catch(() => undefined);
      await this.sms.close().catch(() => undefined);
      if (this.schemaCreated) {
        const db = await this.connect();
        await db.query(`DROP SCHEMA IF EXISTS "${this.schema}" CASCADE`).finally(() => db.end());
      }
      if (!this.options.keep) rmSync(this.dir, { recursive: true, force: true });
    })();
    return this.cleaned;
  }

  private enter(phase: string): void {
    this.phase = phase;
    this.phases.push({ name: phase, startedAt: Date.now() });
    this.options.log?.(`phase: ${phase}`);
  }

  private async stopInstances(): Promise<void> {
    await Promise.all(this.instances.map((instance) => instance.stop().catch(() => undefined)));
  }

  private async connect(): Promise<Client> {
    const db = new Client({ connectionString: this.options.pgUrl, options: `-c search_path=${this.schema}` });
    await db.connect();
    return db;
  }

  private async createSchema(): Promise<void> {
    const db = await this.connect();
    try {
      await db.query(`CREATE SCHEMA "${this.schema}"`);
      this.schemaCreated = true;
    } finally {
      await db.end();
    }
  }

  /** Waits until no SMS is pending: after that none can be sent, so the count is final. */
  private async outboxDrained(db: Client, timeoutMs = 120_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const { rows } = await db.query("SELECT count(*)::int AS n FROM sms_outbox WHERE status = 'pending'");
      if (rows[0].n === 0) return;
      if (Date.now() > deadline) throw new Error(`${rows[0].n} SMS still pending after ${timeoutMs} ms`);
      await sleep(200);
    }
  }

  /** Production settings, shared by every instance and every build; PORT and METRICS_PORT are per instance. */
  private instanceEnv(): Record<string, string> {
    return {
      PATH: process.env.PATH ?? '/usr/bin:/bin',
      HOME: process.env.HOME ?? this.dir,
      NODE_ENV: 'production',
      ENV_FILE: '',
      LOG_LEVEL: 'info',
      HOST: '127.0.0.1',
      GRPC_PORT: '0',
      METRICS_HOST: '127.0.0.1',
      DATABASE_URL: this.options.pgUrl,
      DATABASE_SCHEMA: this.schema,
      DATABASE_POOL_SIZE: '8',
      // a busy 2-core machine runs three instances, PostgreSQL and the load: 503s stay rare
      DATABASE_STATEMENT_TIMEOUT: '3s',
      DATABASE_CONNECT_TIMEOUT: '3s',
      REDIS_URL: this.options.redisUrl,
      REDIS_TIMEOUT: '3s',
      FIRST_INSTANCE_PAT_PATH: join(this.dir, 'admin.pat'),
      CODE_HMAC_KEY: `drill:${randomBytes(32).toString('base64')}`,
      // SMS_WEBHOOK_URL: a path per life (run())
      SMS_PROVIDER: 'webhook',
      SMS_WEBHOOK_SIGNING_KEY: randomBytes(32).toString('hex'),
      SMS_WEBHOOK_TIMEOUT: '2s',
      // a message a killed instance was sending is taken over after this
      SMS_SEND_LEASE: '8s',
      // the drill's users change numbers and ask for codes far more often than people do
      SMS_RESEND_COOLDOWN: '0s',
      SMS_MAX_PER_USER_PER_HOUR: '100',
      SMS_BACKOFF_BASE: '0s',
      PHONE_CODE_MAX_ATTEMPTS: String(MAX_ATTEMPTS),
      PHONE_MAX_FAILED_PER_DAY: '1000',
      // every request comes from the proxy's address
      THROTTLE_LIMIT: '1000000',
      SHUTDOWN_TIMEOUT: '10s',
    };
  }

  private figures(
    load: Load,
    sms: { duplicates: number; lostRecords: number; outbox: Record<string, number> },
    upgrade: Upgrade,
  ) {
    const calls = load.users.flatMap((u) => u.rounds.flatMap((r) => r.calls));
    const tries = calls.flatMap((c) => c.tries.map((t) => ({ ...t, kind: c.kind })));
    const by = <T>(items: T[], key: (item: T) => string) =>
      items.reduce<Record<string, number>>((acc, item) => ({ ...acc, [key(item)]: (acc[key(item)] ?? 0) + 1 }), {});
    const phaseEnd = (i: number) => this.phases[i + 1]?.startedAt ?? Date.now();
    return {
      users: load.users.length,
      rounds: load.users.reduce((n, u) => n + u.rounds.length, 0),
      calls: calls.length,
      requests: tries.length,
      callOutcomes: by(calls, (c) => (c.outcome === 'answered' ? `${c.kind} ${c.status}` : `${c.kind} ${c.outcome}`)),
      unavailableByPhase: by(
        tries.filter((t) => t.status === 503),
        (t) => `${t.endedIn}: ${t.errorId ?? 'no id'}`,
      ),
      noAnswerByPhase: by(
        tries.filter((t) => t.error !== undefined),
        (t) => `${t.endedIn}: ${t.error}`,
      ),
      // the requests without an answer, and the lives whose log shows them read (none: never reached the app)
      noAnswer: tries
        .filter((t) => t.error !== undefined)
        .map((t) => ({
          requestId: t.requestId,
          phase: t.endedIn,
          readBy: this.instances.flatMap((instance) =>
            instance.lives.flatMap((life, i) =>
              instance.records().some((r) => r.life === i && r.req?.id === t.requestId)
                ? [`${instance.index}/${i}`]
                : [],
            ),
          ),
        })),
      callsByPhase: Object.fromEntries(load.completedByPhase),
      phasesMs: Object.fromEntries(this.phases.map((p, i) => [p.name, phaseEnd(i) - p.startedAt])),
      sms: { received: this.inbox.messages.length, ...sms },
      proxy: { forwarded: this.proxy?.forwarded, refused: this.proxy?.refused, noBackend: this.proxy?.noBackend },
      instances: this.instances.map((instance) => {
        const records = instance.records();
        return {
          index: instance.index,
          lives: instance.lives.map((life, i) => ({
            build: life.build,
            readyMs: life.readyAt === undefined ? undefined : life.readyAt - life.startedAt,
            stopMs: life.stopAt === undefined || life.exitedAt === undefined ? undefined : life.exitedAt - life.stopAt,
            exit: life.exit,
            answered: records.filter((r) => r.life === i && String(r.req?.id ?? '').startsWith('drill-')).length,
            errors: [...new Set(records.filter((r) => r.life === i && r.level >= 50).map((r) => String(r.msg)))],
          })),
        };
      }),
      upgrade: upgrade.migration,
    };
  }
}
