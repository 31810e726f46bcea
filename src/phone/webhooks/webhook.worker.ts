import { Injectable, OnApplicationBootstrap, OnModuleDestroy } from '@nestjs/common';
import { Clock } from '../../common/clock';
import { databaseFault } from '../../common/errors/dependency-error';
import { DependencyOutages } from '../../common/errors/dependency-outages';
import { AppLogger } from '../../common/logging/app-logger';
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
  private timer?: NodeJS.Timeout;
  private claiming?: Promise<void>;
  private again = false;
  private stopped = false;
  private readonly inFlight = new Set<Promise<void>>();

  constructor(
    private readonly config: WebhookSettings,
    private readonly db: Database,
    private readonly outbox: WebhookOutboxRepository,
    private readonly delivery: WebhookDelivery,
    private readonly clock: Clock,
    private readonly logger: AppLogger,
    private readonly outages: DependencyOutages,
  ) {
    logger.setContext(WebhookWorker.name);
  }

  onApplicationBootstrap(): void {
    // without endpoints no row is written: one drain at start gives up those of endpoints removed since
    if (this.config.endpoints().length > 0) {
      this.timer = setInterval(() => this.kick(), this.config.pollIntervalMs);
      this.timer.unref();
    }
    this.kick();
  }

  async onModuleDestroy(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    await this.idle();
  }

  /** Look for due deliveries now (coalesced: one claim at a time). */
  kick(): void {
    if (this.stopped) return;
    if (this.claiming) {
      this.again = true;
      return;
    }
    this.claiming = this.fill()
      .catch((error: unknown) => this.failed(error, {}, 'webhook outbox drain failed'))
      .finally(() => {
        this.claiming = undefined;
        if (this.again) {
          this.again = false;
          this.kick();
        }
      });
  }

  /** Resolves once nothing is being claimed or delivered (tests and shutdown). */
  async idle(): Promise<void> {
    while (this.claiming || this.inFlight.size > 0) await Promise.all([this.claiming, ...this.inFlight]);
  }

  private async fill(): Promise<void> {
    while (!this.stopped) {
      const free = this.config.concurrency - this.inFlight.size;
      if (free <= 0) return;
      const now = this.clock.now();
      const rows = await this.db.transaction((tx) => this.outbox.claimDue(tx, now, LEASE_MS, free));
      for (const row of rows) this.start(row);
      if (rows.length < free) return;
    }
  }

  private failed(error: unknown, context: object, message: string): void {
    const fault = databaseFault(error);
    if (fault) this.outages.failed(fault);
    else this.logger.error({ err: error, ...context }, message);
  }

  private start(row: WebhookOutboxEntity): void {
    const delivery: Promise<void> = this.delivery
      .deliver(row)
      .catch((error: unknown) => this.failed(error, { webhookId: row.id }, 'webhook delivery failed unexpectedly'))
      .finally(() => {
        this.inFlight.delete(delivery);
        // the user's next event may have been waiting for this one
        this.kick();
      });
    this.inFlight.add(delivery);
  }
}
