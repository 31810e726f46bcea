import { Injectable, OnApplicationBootstrap, OnModuleDestroy } from '@nestjs/common';
import { AppLogger } from '../../common/logging/app-logger';
import { Clock } from '../../common/clock';
import { AppConfig } from '../../common/config/app-config.module';
import { SmsDeliveryService } from './sms-delivery.service';
import { SmsOutboxRepository } from './sms-outbox.repository';

const BATCH = 16;

/**
 * Drains the outbox: woken right after a commit that enqueued a message, and on a timer for
 * retries and for messages other instances left behind. On shutdown it stops claiming and waits
 * for the deliveries in flight, so none is sent twice.
 */
@Injectable()
export class SmsOutboxWorker implements OnApplicationBootstrap, OnModuleDestroy {
  private timer?: NodeJS.Timeout;
  private running?: Promise<void>;
  private again = false;
  private stopped = false;

  constructor(
    private readonly config: AppConfig,
    private readonly outbox: SmsOutboxRepository,
    private readonly delivery: SmsDeliveryService,
    private readonly clock: Clock,
    private readonly logger: AppLogger,
  ) {
    logger.setContext(SmsOutboxWorker.name);
  }

  onApplicationBootstrap(): void {
    this.timer = setInterval(() => this.kick(), this.config.SMS_POLL_INTERVAL);
    this.timer.unref();
    this.kick();
  }

  /** Before any global module's destroy hook: the node-id lease and the database are still held while it waits. */
  async onModuleDestroy(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    await this.running;
  }

  /** Look for due messages now (coalesced: one drain at a time). */
  kick(): void {
    if (this.stopped) return;
    if (this.running) {
      this.again = true;
      return;
    }
    this.running = this.drain()
      .catch((error: unknown) => this.logger.error({ err: error }, 'SMS outbox drain failed'))
      .finally(() => {
        this.running = undefined;
        if (this.again) {
          this.again = false;
          this.kick();
        }
      });
  }

  /** Resolves once no drain is running (tests and shutdown). */
  async idle(): Promise<void> {
    while (this.running) await this.running;
  }

  private async drain(): Promise<void> {
    while (!this.stopped) {
      const rows = await this.outbox.claimDue(this.clock.now(), this.config.SMS_SEND_LEASE, BATCH);
      // every delivery is waited for, also when another one of the batch fails
      const results = await Promise.allSettled(rows.map((row) => this.delivery.deliver(row)));
      for (const result of results) {
        if (result.status === 'rejected') this.logger.error({ err: result.reason }, 'SMS delivery failed unexpectedly');
      }
      if (rows.length < BATCH) return;
    }
  }
}
