import { Injectable, OnApplicationBootstrap, OnModuleDestroy } from '@nestjs/common';
import { Clock } from '../../common/clock';
import { DependencyOutages } from '../../common/errors/dependency-outages';
import { AppLogger } from '../../common/logging/app-logger';
import { PeriodicTask } from '../../common/workers/periodic-task';
import { RetentionSettings } from '../retention/retention.settings';
import { SmsOutboxRepository } from './sms-outbox.repository';
import { SmsReceiptReader } from './sms-receipt-reader';
import { SmsReceiptsService } from './sms-receipts.service';

/** How often sealed codes that no retry can need any more are erased. */
export const SWEEP_INTERVAL_MS = 60_000;
/** How far back (by when they were last due) a sweep looks for kept codes. */
const SWEEP_WINDOW_MS = 2 * 24 * 3600_000;
/** Messages whose waiting receipts one sweep applies. */
const SWEEP_BATCH = 100;

/** With receipts taken: the kept codes, old receipts and receipts left waiting, looked after every minute. */
@Injectable()
export class SmsReceiptSweeper implements OnApplicationBootstrap, OnModuleDestroy {
  private readonly timer = new PeriodicTask(() => this.sweep());
  private swept = false;

  constructor(
    private readonly retention: RetentionSettings,
    private readonly reader: SmsReceiptReader,
    private readonly receipts: SmsReceiptsService,
    private readonly outbox: SmsOutboxRepository,
    private readonly clock: Clock,
    private readonly logger: AppLogger,
    private readonly outages: DependencyOutages,
  ) {
    // the receipts' lines, under the context of the service that takes them
    logger.setContext('SmsReceiptsService');
  }

  onApplicationBootstrap(): void {
    if (!this.reader.takesAny) return;
    this.timer.start(SWEEP_INTERVAL_MS);
  }

  onModuleDestroy(): void {
    this.timer.stop();
  }

  /**
   * Erases the sealed codes accepted messages kept for a retry once their code was verified,
   * replaced or expired, drops receipts that waited SMS_RECEIPT_RETENTION for their message, and
   * applies receipts left waiting although their message is known (an apply cut short by an
   * outage). Returns the codes erased.
   */
  async sweep(): Promise<number> {
    const now = this.clock.now();
    try {
      // a kept code dies by its message's give_up_at, at most SMS_MAX_AGE (24 h) after it was first
      // due: two days back covers it with a margin; the first sweep of an instance looks at all
      const dueSince = this.swept ? new Date(now.getTime() - SWEEP_WINDOW_MS) : new Date(0);
      const receiptsBefore = new Date(now.getTime() - this.retention.receiptsMs);
      const erased = await this.outbox.eraseDeadCodes(now, dueSince, receiptsBefore);
      this.swept = true;
      await this.receipts.applyWaiting(await this.outbox.messagesWithWaitingReceipts(SWEEP_BATCH));
      return erased;
    } catch (error) {
      if (!this.outages.databaseFailed(error)) this.logger.error({ err: error }, 'SMS outbox sweep failed');
      return 0;
    }
  }
}
