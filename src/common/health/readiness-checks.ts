import { Inject, Injectable, Optional } from '@nestjs/common';
import { keyPrefix, RedisClient } from '../limits/redis-connection';
import { Clock } from '../clock';
import { AppError } from '../errors/app-error';
import { GrpcStatus } from '../errors/grpc-status';
import { REDIS } from '../limits/limits.module';
import { Readiness } from '../shutdown/readiness';
import { DatabaseHealth } from './database-health';

/** One dependency's state in a readiness answer. */
export type CheckState = 'up' | 'down';

/** A check: resolves true while its dependency can serve; it must end within its own deadline. */
export type ReadinessCheck = () => Promise<boolean>;

/** `{"database":"up","redis":"down","outbox":"up"}`, in the order the checks were registered. */
export type CheckStates = Record<string, CheckState>;

export interface ReadinessReport {
  ready: boolean;
  checks: CheckStates;
}

/** How long one run of the checks answers every probe: at most one database query per this, however many probes. */
export const READINESS_SHARED_MS = 1_000;

/** What each check's failure answers (the first failed one's ID; the text names them all). */
const IDS: Record<string, string> = { database: 'HEALTH-db', redis: 'HEALTH-redis', outbox: 'HEALTH-outbox' };

/**
 * The one readiness check behind every probe and gRPC Health: not shutting down, and every check
 * up. Features `register` theirs, so that src/common imports no feature; each has its own deadline.
 */
@Injectable()
export class ReadinessChecks {
  private readonly names: string[] = [];
  private readonly checks: ReadinessCheck[] = [];
  /** the last run, shared by the probes of the READINESS_SHARED_MS after it started (in flight too) */
  private last?: { at: number; report: Promise<ReadinessReport> };

  constructor(
    private readonly readiness: Readiness,
    database: DatabaseHealth,
    private readonly clock: Clock,
    @Optional() @Inject(REDIS) redis?: RedisClient | null,
  ) {
    this.register('database', () => database.isUp());
    if (redis) this.register('redis', () => pingRedis(redis));
  }

  register(name: string, check: ReadinessCheck): void {
    if (this.names.includes(name)) throw new Error(`readiness check "${name}" registered twice`);
    this.names.push(name);
    this.checks.push(check);
  }

  /** Whether the service takes work: false from the moment a shutdown starts, without asking anything. */
  get stopping(): boolean {
    return this.readiness.stopping;
  }

  /**
   * The checks' report. Probes are public and unauthenticated: a run answers every probe of the
   * READINESS_SHARED_MS after it started, so a flood of them costs the database one query a second.
   */
  run(): Promise<ReadinessReport> {
    const now = this.clock.now().getTime();
    if (this.last && now >= this.last.at && now - this.last.at < READINESS_SHARED_MS) return this.last.report;
    const report = this.runChecks();
    this.last = { at: now, report };
    return report;
  }

  private async runChecks(): Promise<ReadinessReport> {
    const results = await Promise.all(this.checks.map((check) => check().catch(() => false)));
    const checks: CheckStates = {};
    results.forEach((up, i) => (checks[this.names[i]] = up ? 'up' : 'down'));
    return { ready: results.every(Boolean), checks };
  }

  /** For gRPC Health: SERVING or not. */
  async isReady(): Promise<boolean> {
    return !this.stopping && (await this.run()).ready;
  }

  /**
   * The answer of every HTTP readiness endpoint: `{"status":"SERVING","checks":{…}}`, or the
   * error to answer 503 with: HEALTH-stop while shutting down, else the first failed check's ID,
   * a text naming every failed check ("Not ready: redis, outbox") and each check's state in the
   * ErrorInfo's metadata, so that an operator reads at a glance what is down.
   */
  async answer(): Promise<{ status: 'SERVING'; checks: CheckStates } | AppError> {
    if (this.stopping) return stoppingError();
    const report = await this.run();
    // a shutdown that began while the checks ran wins
    if (this.stopping) return stoppingError();
    if (report.ready) return { status: 'SERVING', checks: report.checks };
    const failed = Object.keys(report.checks).filter((name) => report.checks[name] === 'down');
    return new AppError(
      GrpcStatus.UNAVAILABLE,
      IDS[failed[0]] ?? `HEALTH-${failed[0]}`,
      `Not ready: ${failed.join(', ')}`,
      {
        info: { reason: 'NOT_READY', metadata: { ...report.checks } },
      },
    );
  }
}

const stoppingError = () => new AppError(GrpcStatus.UNAVAILABLE, 'HEALTH-stop', 'The service is shutting down');

/**
 * PING under the client's own deadlines: REDIS_TIMEOUT as the command timeout, and an immediate
 * failure while disconnected (no offline queue), so a dead Redis costs a probe nothing. In a
 * Cluster a PING goes to any node: the probe asks the primary of the stores' slot instead.
 */
async function pingRedis(redis: RedisClient): Promise<boolean> {
  try {
    if (redis.isCluster) return (await redis.exists(`${keyPrefix(redis)}ready`)) >= 0;
    return (await redis.ping()) === 'PONG';
  } catch {
    return false;
  }
}
