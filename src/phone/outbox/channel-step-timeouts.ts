import { Injectable, OnApplicationBootstrap, OnModuleDestroy } from '@nestjs/common';
import { Clock } from '../../common/clock';
import { DependencyOutages } from '../../common/errors/dependency-outages';
import { AppLogger } from '../../common/logging/app-logger';
import { PeriodicTask } from '../../common/workers/periodic-task';
import { channelOf } from '../channels/channel-routes';
import { SmsDeliveryRows } from './sms-delivery-rows';
import { ChannelSteps, StepMove } from './channel-steps';
import { SmsOutboxEntity } from './sms-outbox.entity';
import { SmsOutboxRepository } from './sms-outbox.repository';
import { SmsRetryPolicy } from './sms-retry-policy';
import { SmsOutboxWorker } from './sms-outbox.worker';

/** How far back (by when they were last due) a look reaches: a step lives at most SMS_MAX_AGE (24 h). */
const WINDOW_MS = 2 * 24 * 3600_000;
/** Messages one look moves on. */
const BATCH = 100;

/**
 * Steps that timed out: an accepted message with neither a delivered receipt nor a verification
 * by its step's timeout goes on to its workflow's next channel while its code is current; a
 * verified, replaced or expired code ends the workflow instead (ADR 0028).
 */
@Injectable()
export class ChannelStepTimeouts implements OnApplicationBootstrap, OnModuleDestroy {
  private readonly timer = new PeriodicTask(() => this.sweep());
  private looked = false;

  constructor(
    private readonly steps: ChannelSteps,
    private readonly rows: SmsDeliveryRows,
    private readonly outbox: SmsOutboxRepository,
    private readonly policy: SmsRetryPolicy,
    private readonly clock: Clock,
    private readonly worker: SmsOutboxWorker,
    private readonly outages: DependencyOutages,
    private readonly logger: AppLogger,
  ) {
    logger.setContext(ChannelStepTimeouts.name);
  }

  onApplicationBootstrap(): void {
    if (!this.steps.fallsBack) return;
    // a quarter of the shortest step: a step moves on at most that late
    const every = Math.min(15_000, Math.max(1_000, this.steps.shortestStepMs / 4));
    this.timer.start(every);
  }

  onModuleDestroy(): void {
    this.timer.stop();
  }

  /** Moves the timed-out steps on; returns how many went to their next channel. */
  async sweep(): Promise<number> {
    const now = this.clock.now();
    try {
      const dueSince = this.looked ? new Date(now.getTime() - WINDOW_MS) : new Date(0);
      const rows = await this.outbox.timedOutSteps(now, dueSince, BATCH);
      this.looked = true;
      let moved = 0;
      for (const row of rows) {
        const move = await this.timedOut(row, now);
        if (!move) continue;
        this.steps.moved(row, move);
        moved++;
      }
      if (moved > 0) this.worker.kick();
      return moved;
    } catch (error) {
      if (!this.outages.databaseFailed(error))
        this.logger.error({ err: error }, 'Channel step timeouts could not be looked after');
      return 0;
    }
  }

  /** One row, looked at again under its locks: the move made, or undefined (the workflow over, or nothing to do). */
  private timedOut(found: SmsOutboxEntity, now: Date): Promise<StepMove | undefined> {
    return this.rows.moveTimedOut(found, now, async (tx, row, user) => {
      const still =
        row.status === 'delivered' &&
        row.stepDueAt != null &&
        row.stepDueAt <= now &&
        row.sealedCode !== null &&
        row.deliveryStatus !== 'delivered';
      if (!still) return 'unchanged';
      if (!(await this.policy.stillCurrent(tx, row, user, now))) return 'over';
      return this.steps.move(row, 'timeout', now, `${channelOf(row)}: no receipt or verification in time`) ?? 'over';
    });
  }
}
