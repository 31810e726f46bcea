import { Injectable, OnApplicationBootstrap, OnModuleDestroy, Optional } from '@nestjs/common';
import { DISABLED, Tracing } from '../../common/tracing/tracing';
import { DependencyOutages } from '../../common/errors/dependency-outages';
import { AppLogger } from '../../common/logging/app-logger';
import { Clock } from '../../common/clock';
import { ClaimLoop } from '../../common/workers/claim-loop';
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
  private readonly loop: ClaimLoop<SmsOutboxEntity>;

  constructor(
    private readonly config: SmsOutboxSettings,
    db: Database,
    outbox: SmsOutboxRepository,
    delivery: SmsDeliveryService,
    clock: Clock,
    logger: AppLogger,
    outages: DependencyOutages,
    @Optional() tracing: Tracing = DISABLED,
  ) {
    logger.setContext(SmsOutboxWorker.name);
    const job = {
      concurrency: () => config.sendConcurrency,
      claim: (free: number) => {
        const now = clock.now();
        return db.transaction((tx) => outbox.claimDue(tx, now, config.sendLeaseMs, free));
      },
      // a trace of its own: the request that queued the message has long been answered
      deliver: (row: SmsOutboxEntity) => tracing.inRoot('SMS delivery', () => delivery.deliver(row)),
      lookAgain: 'onBacklog' as const,
      describe: (row: SmsOutboxEntity) => ({ outboxId: row.id }),
      drainFailed: 'SMS outbox drain failed',
      deliveryFailed: 'SMS delivery failed unexpectedly',
    };
    this.loop = new ClaimLoop(job, logger, outages);
  }

  onApplicationBootstrap(): void {
    this.loop.start(this.config.pollIntervalMs);
  }

  /** Before any global module's destroy hook: the node-id lease and the database are still held while it waits. */
  async onModuleDestroy(): Promise<void> {
    await this.loop.stop();
  }

  /** Started and not stopped: its timer keeps looking for due messages (readiness asks this). */
  get running(): boolean {
    return this.loop.running;
  }

  /** Look for due messages now (coalesced: one claim at a time). */
  kick(): void {
    this.loop.kick();
  }

  /** Resolves once nothing is being claimed or delivered (tests and shutdown). */
  idle(): Promise<void> {
    return this.loop.idle();
  }
}
