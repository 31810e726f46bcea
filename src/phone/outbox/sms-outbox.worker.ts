import { Injectable, OnApplicationBootstrap, OnModuleDestroy, Optional } from '@nestjs/common';
import { DISABLED, Tracing } from '../../common/tracing/tracing';
import { databaseFault } from '../../common/errors/dependency-error';
import { DependencyOutages } from '../../common/errors/dependency-outages';
import { AppLogger } from '../../common/logging/app-logger';
import { Clock } from '../../common/clock';
import { SmsOutboxSettings } from './sms-outbox.settings';
import { Database } from '../../database/sql';
import { SmsDeliveryService } from './sms-delivery.service';
import { SmsOutboxEntity } from './sms-outbox.entity';
import { SmsOutboxRepository } from './sms-outbox.repository';

/**
 * Drains the outbox, woken after a commit and on a timer (ADR 0014). Deliveries run side by side,
 * so a slow provider holds up no other message; on shutdown it waits for those in flight.
 */
@Injectable()
export class SmsOutboxWorker implements OnApplicationBootstrap, OnModuleDestroy {
  private timer?: NodeJS.Timeout;
  private claiming?: Promise<void>;
  private again = false;
  /** the last claim took as many messages as there were free slots: more may be due */
  private backlog = false;
  private stopped = false;
  private readonly inFlight = new Set<Promise<void>>();

  constructor(
    private readonly config: SmsOutboxSettings,
    private readonly db: Database,
    private readonly outbox: SmsOutboxRepository,
    private readonly delivery: SmsDeliveryService,
    private readonly clock: Clock,
    private readonly logger: AppLogger,
    private readonly outages: DependencyOutages,
    @Optional() private readonly tracing: Tracing = DISABLED,
  ) {
    logger.setContext(SmsOutboxWorker.name);
  }

  onApplicationBootstrap(): void {
    this.timer = setInterval(() => this.kick(), this.config.pollIntervalMs);
    this.timer.unref();
    this.kick();
  }

  /** Before any global module's destroy hook: the node-id lease and the database are still held while it waits. */
  async onModuleDestroy(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    await this.idle();
  }

  /** Started and not stopped: its timer keeps looking for due messages (readiness asks this). */
  get running(): boolean {
    return this.timer !== undefined && !this.stopped;
  }

  /** Look for due messages now (coalesced: one claim at a time). */
  kick(): void {
    if (this.stopped) return;
    if (this.claiming) {
      this.again = true;
      return;
    }
    this.claiming = this.fill()
      .catch((error: unknown) => this.failed(error, {}, 'SMS outbox drain failed'))
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

  /** Claims due messages for the free slots and starts their deliveries without waiting for them. */
  private async fill(): Promise<void> {
    while (!this.stopped) {
      const free = this.config.sendConcurrency - this.inFlight.size;
      if (free <= 0) {
        this.backlog = true; // a delivery that ends looks again
        return;
      }
      const now = this.clock.now();
      const rows = await this.db.transaction((tx) => this.outbox.claimDue(tx, now, this.config.sendLeaseMs, free));
      for (const row of rows) this.start(row);
      if (rows.length < free) {
        this.backlog = false;
        return;
      }
    }
  }

  /** A database outage is logged once for all (the message stays due and is retried); anything else is a bug. */
  private failed(error: unknown, context: object, message: string): void {
    const fault = databaseFault(error);
    if (fault) this.outages.failed(fault);
    else this.logger.error({ err: error, ...context }, message);
  }

  private start(row: SmsOutboxEntity): void {
    // a trace of its own: the request that queued the message has long been answered
    const delivery: Promise<void> = this.tracing
      .inRoot('SMS delivery', () => this.delivery.deliver(row))
      .catch((error: unknown) => this.failed(error, { outboxId: row.id }, 'SMS delivery failed unexpectedly'))
      .finally(() => {
        this.inFlight.delete(delivery);
        if (this.backlog) this.kick();
      });
    this.inFlight.add(delivery);
  }
}
