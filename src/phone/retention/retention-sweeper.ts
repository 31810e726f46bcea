import { Injectable, OnApplicationBootstrap, OnModuleDestroy } from '@nestjs/common';
import { Counter } from 'prom-client';
import { DependencyOutages } from '../../common/errors/dependency-outages';
import { AppLogger } from '../../common/logging/app-logger';
import { Metrics } from '../../common/metrics/metrics';
import { Pruned, RetentionPruner } from './retention-pruner';

/** How often each instance prunes (every instance does; the deletes are idempotent). */
export const RETENTION_SWEEP_INTERVAL_MS = 10 * 60_000;

/** The RetentionPruner on a timer of each instance, one sweep at a time; an outage waits for the next (ADR 0002). */
@Injectable()
export class RetentionSweeper implements OnApplicationBootstrap, OnModuleDestroy {
  private timer?: NodeJS.Timeout;
  private running?: Promise<Pruned | undefined>;
  private readonly pruned: Counter<'what'>;

  constructor(
    private readonly pruner: RetentionPruner,
    private readonly logger: AppLogger,
    private readonly outages: DependencyOutages,
    metrics: Metrics,
  ) {
    logger.setContext(RetentionSweeper.name);
    this.pruned = new Counter({
      name: 'pv_retention_pruned_total',
      help: 'Rows the retention sweep deleted (or, for event_phones, redacted), by what',
      labelNames: ['what'],
      registers: [metrics.registry],
    });
  }

  onApplicationBootstrap(): void {
    this.timer = setInterval(() => void this.sweep(), RETENTION_SWEEP_INTERVAL_MS);
    this.timer.unref();
  }

  /** Stops the timer and waits for a sweep under way (the database is still open). */
  async onModuleDestroy(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    await this.running;
  }

  /** One sweep (joined when one is under way): what it pruned, or undefined when it failed. */
  sweep(): Promise<Pruned | undefined> {
    this.running ??= this.sweepOnce().finally(() => (this.running = undefined));
    return this.running;
  }

  private async sweepOnce(): Promise<Pruned | undefined> {
    try {
      const pruned = await this.pruner.prune();
      for (const [what, count] of Object.entries(pruned)) if (count > 0) this.pruned.inc({ what }, count);
      if (Object.values(pruned).some((count) => count > 0)) this.logger.info({ pruned }, 'Retention sweep');
      return pruned;
    } catch (error) {
      if (!this.outages.databaseFailed(error)) this.logger.error({ err: error }, 'Retention sweep failed');
      return undefined;
    }
  }
}
