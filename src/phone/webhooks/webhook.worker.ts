import { Injectable, OnApplicationBootstrap, OnModuleDestroy } from '@nestjs/common';
import { Clock } from '../../common/clock';
import { DependencyOutages } from '../../common/errors/dependency-outages';
import { AppLogger } from '../../common/logging/app-logger';
import { ClaimLoop } from '../../common/workers/claim-loop';
import { Database } from '../../database/sql';
import { WebhookDelivery } from './webhook-delivery';
import { WebhookOutboxEntity } from './webhook-outbox.entity';
import { WebhookOutboxRepository } from './webhook-outbox.repository';
import { LEASE_MS, WebhookSettings } from './webhook.settings';

/**
 * Drains the webhook outbox on a timer (ADR 0024), as the SMS outbox's worker does: claims with a
 * lease, deliveries side by side up to WEBHOOK_CONCURRENCY, and on shutdown waits for those in flight.
 */
@Injectable()
export class WebhookWorker implements OnApplicationBootstrap, OnModuleDestroy {
  private readonly loop: ClaimLoop<WebhookOutboxEntity>;

  constructor(
    private readonly config: WebhookSettings,
    db: Database,
    outbox: WebhookOutboxRepository,
    delivery: WebhookDelivery,
    clock: Clock,
    logger: AppLogger,
    outages: DependencyOutages,
  ) {
    logger.setContext(WebhookWorker.name);
    const job = {
      concurrency: () => config.concurrency,
      claim: (free: number) => {
        const now = clock.now();
        return db.transaction((tx) => outbox.claimDue(tx, now, LEASE_MS, free));
      },
      deliver: (row: WebhookOutboxEntity) => delivery.deliver(row),
      // the user's next event may have been waiting for this one
      lookAgain: 'always' as const,
      describe: (row: WebhookOutboxEntity) => ({ webhookId: row.id }),
      drainFailed: 'webhook outbox drain failed',
      deliveryFailed: 'webhook delivery failed unexpectedly',
    };
    this.loop = new ClaimLoop(job, logger, outages);
  }

  onApplicationBootstrap(): void {
    // without endpoints no row is written: one drain at start gives up those of endpoints removed since
    this.loop.start(this.config.endpoints().length > 0 ? this.config.pollIntervalMs : undefined);
  }

  async onModuleDestroy(): Promise<void> {
    await this.loop.stop();
  }

  /** Look for due deliveries now (coalesced: one claim at a time). */
  kick(): void {
    this.loop.kick();
  }

  /** Resolves once nothing is being claimed or delivered (tests and shutdown). */
  idle(): Promise<void> {
    return this.loop.idle();
  }
}
