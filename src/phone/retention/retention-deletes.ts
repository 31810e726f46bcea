import { Injectable } from '@nestjs/common';
import { LimitBackoffsRepository } from '../../common/limits/limit-backoffs.repository';
import { LimitHitsRepository } from '../../common/limits/limit-hits.repository';
import { Database, Tx } from '../../database/sql';
import { SmsFraudCountsRepository } from '../fraud/sms-fraud-counts.repository';
import { SmsOutboxRepository } from '../outbox/sms-outbox.repository';
import { IdempotentRequestsRepository } from '../idempotency/idempotent-requests.repository';
import { SmsSpendCountsRepository } from '../spend/sms-spend-counts.repository';
import { WebhookOutboxRepository } from '../webhooks/webhook-outbox.repository';

/** Rows one statement deletes or one transaction redacts: no sweep holds a lock for long. */
export const BATCH = 500;

/** The deletes retention runs, each in transactions of its own, the unbounded ones in batches. */
@Injectable()
export class RetentionDeletes {
  constructor(
    private readonly db: Database,
    private readonly outbox: SmsOutboxRepository,
    private readonly fraudCounts: SmsFraudCountsRepository,
    private readonly limitHits: LimitHitsRepository,
    private readonly backoffs: LimitBackoffsRepository,
    private readonly idempotent: IdempotentRequestsRepository,
    private readonly spendCounts: SmsSpendCountsRepository,
    private readonly webhooks: WebhookOutboxRepository,
  ) {}

  /** The pumping guard's counters of hours before `hour` and numbers verified before `verifiedBefore` (ms). */
  fraud(hour: number, verifiedBefore: number) {
    return this.db.transaction((tx) => this.fraudCounts.prune(tx, hour, verifiedBefore));
  }

  /** The spend counters' days before `day` (ms). */
  spendCountsBefore(day: number): Promise<number> {
    return this.db.transaction((tx) => this.spendCounts.prune(tx, day));
  }

  outboxEndedBefore(before: Date, now: Date): Promise<number> {
    return this.inBatches((tx) => this.outbox.removeEnded(tx, before, now, BATCH));
  }

  webhooksEndedBefore(before: Date): Promise<number> {
    return this.inBatches((tx) => this.webhooks.removeEnded(tx, before, BATCH));
  }

  receiptsBefore(before: Date): Promise<number> {
    return this.db.transaction((tx) => this.outbox.removeReceiptsBefore(tx, before));
  }

  limitHitsUntil(until: number): Promise<number> {
    return this.inBatches((tx) => this.limitHits.removeUntil(tx, until, BATCH));
  }

  backoffsExpiredBy(now: number): Promise<number> {
    return this.db.transaction((tx) => this.backoffs.removeExpired(tx, now));
  }

  idempotencyKeysExpiredBy(now: Date): Promise<number> {
    return this.inBatches((tx) => this.idempotent.removeExpired(tx, now, BATCH));
  }

  /** Runs a bounded delete until it deletes less than a batch; returns the rows deleted. */
  private async inBatches(remove: (tx: Tx) => Promise<number>): Promise<number> {
    let total = 0;
    for (;;) {
      const removed = await this.db.transaction(remove);
      total += removed;
      if (removed < BATCH) return total;
    }
  }
}
