import { Injectable } from '@nestjs/common';
import { Clock } from '../../common/clock';
import { FraudSettings } from '../fraud/fraud.settings';
import { hourOf } from '../fraud/sms-fraud-store';
import { previousMonthStart } from '../spend/spend-caps';
import { EventPhoneRedactor } from './event-phone-redactor';
import { RetentionDeletes } from './retention-deletes';
import { RetentionSettings } from './retention.settings';
import { WebhookSettings } from '../webhooks/webhook.settings';

/** The longest window of a rate limit (a day): a limit hit older than that counts for nothing. */
const LONGEST_LIMIT_WINDOW_MS = 86_400_000;

/** What one sweep pruned, by what (`event_phones`: events redacted). */
export interface Pruned {
  outbox: number;
  receipts: number;
  fraud_counts: number;
  verified_numbers: number;
  spend_counts: number;
  limit_hits: number;
  limit_backoffs: number;
  event_phones: number;
  idempotency_keys: number;
  webhooks: number;
}

/** Keeps what the retention settings keep and no more: deletes in batches, redacts numbers in events (ADR 0002). */
@Injectable()
export class RetentionPruner {
  constructor(
    private readonly config: RetentionSettings,
    private readonly fraud: FraudSettings,
    private readonly deletes: RetentionDeletes,
    private readonly redactor: EventPhoneRedactor,
    private readonly clock: Clock,
    private readonly webhooks: WebhookSettings,
  ) {}

  async prune(): Promise<Pruned> {
    const now = this.clock.now();
    const ago = (ms: number) => new Date(now.getTime() - ms);
    const fraud = await this.deletes.fraud(
      hourOf(now) - this.fraud.counterRetentionMs,
      now.getTime() - this.fraud.rememberVerifiedMs,
    );
    return {
      outbox: await this.deletes.outboxEndedBefore(ago(this.config.outboxMs), now),
      receipts: await this.deletes.receiptsBefore(ago(this.config.receiptsMs)),
      fraud_counts: fraud.counts,
      verified_numbers: fraud.numbers,
      // this month's and the last one's days: what the caps and the metrics read
      spend_counts: await this.deletes.spendCountsBefore(previousMonthStart(now)),
      limit_hits: await this.deletes.limitHitsUntil(now.getTime() - LONGEST_LIMIT_WINDOW_MS),
      limit_backoffs: await this.deletes.backoffsExpiredBy(now.getTime()),
      event_phones: await this.redactor.redactBefore(ago(this.config.eventPhonesMs)),
      // a key's day is over: it is new again (the claim replaces an expired row before the sweep comes)
      idempotency_keys: await this.deletes.idempotencyKeysExpiredBy(now),
      webhooks: await this.deletes.webhooksEndedBefore(ago(this.webhooks.retentionMs)),
    };
  }
}
