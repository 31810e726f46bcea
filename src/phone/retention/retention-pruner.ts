import { Injectable } from '@nestjs/common';
import { Clock } from '../../common/clock';
import { FraudSettings } from '../fraud/fraud.settings';
import { RetentionSettings } from './retention.settings';
import { EventPosition, EventsRepository } from '../../common/events/events.repository';
import { LimitBackoffsRepository } from '../../common/limits/limit-backoffs.repository';
import { LimitHitsRepository } from '../../common/limits/limit-hits.repository';
import { Database, Tx } from '../../database/sql';
import { SmsFraudCountsRepository } from '../fraud/sms-fraud-counts.repository';
import { hourOf } from '../fraud/sms-fraud-store';
import { SmsOutboxRepository } from '../outbox/sms-outbox.repository';
import { PhoneEvents } from '../phone-events';

/** Rows one statement deletes or one transaction redacts: no sweep holds a lock for long. */
const BATCH = 500;
/** The longest window of a rate limit (a day): a limit hit older than that counts for nothing. */
const LONGEST_LIMIT_WINDOW_MS = 86_400_000;

/** The fields of an event payload that hold a phone number (or a prefix of one), by event type. */
export const PHONE_FIELDS: Record<string, string[]> = {
  [PhoneEvents.changed]: ['phone'],
  [PhoneEvents.codeSendBlocked]: ['prefix'],
};

/** In the payload of a redacted event (JSON.stringify's spelling): it is passed over. */
const REDACTED_MARKER = '"redacted":true';

/** What one sweep pruned, by what (`event_phones`: events redacted). */
export interface Pruned {
  outbox: number;
  receipts: number;
  fraud_counts: number;
  verified_numbers: number;
  limit_hits: number;
  limit_backoffs: number;
  event_phones: number;
}

/** Keeps what the retention settings keep and no more: deletes in batches, redacts numbers in events (ADR 0002). */
@Injectable()
export class RetentionPruner {
  /** how far each type's events were redacted (this process: the first sweep walks them all once) */
  private readonly redacted = new Map<string, EventPosition>();

  constructor(
    private readonly config: RetentionSettings,
    private readonly fraud: FraudSettings,
    private readonly db: Database,
    private readonly outbox: SmsOutboxRepository,
    private readonly fraudCounts: SmsFraudCountsRepository,
    private readonly limitHits: LimitHitsRepository,
    private readonly backoffs: LimitBackoffsRepository,
    private readonly events: EventsRepository,
    private readonly clock: Clock,
  ) {}

  async prune(): Promise<Pruned> {
    const now = this.clock.now();
    const ago = (ms: number) => new Date(now.getTime() - ms);
    const fraud = await this.db.transaction((tx) =>
      this.fraudCounts.prune(
        tx,
        hourOf(now) - this.fraud.counterRetentionMs,
        now.getTime() - this.fraud.rememberVerifiedMs,
      ),
    );
    return {
      outbox: await this.inBatches((tx) => this.outbox.removeEnded(tx, ago(this.config.outboxMs), now, BATCH)),
      receipts: await this.db.transaction((tx) => this.outbox.removeReceiptsBefore(tx, ago(this.config.receiptsMs))),
      fraud_counts: fraud.counts,
      verified_numbers: fraud.numbers,
      limit_hits: await this.inBatches((tx) =>
        this.limitHits.removeUntil(tx, now.getTime() - LONGEST_LIMIT_WINDOW_MS, BATCH),
      ),
      limit_backoffs: await this.db.transaction((tx) => this.backoffs.removeExpired(tx, now.getTime())),
      event_phones: await this.redactPhones(ago(this.config.eventPhonesMs)),
    };
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

  /** Sets the phone fields of events created before `before` to null (marked redacted); returns how many. */
  private async redactPhones(before: Date): Promise<number> {
    let total = 0;
    for (const [type, fields] of Object.entries(PHONE_FIELDS)) {
      for (;;) {
        const after = this.redacted.get(type) ?? { createdAt: -1, id: '' };
        const rows = await this.events.ofTypeBefore(type, before, after, BATCH, REDACTED_MARKER);
        if (rows.length === 0) break;
        const rewrites = rows.flatMap((row) => {
          const payload = parsePayload(row.payload);
          if (!payload || payload.redacted === true) return [];
          for (const field of fields) if (field in payload) payload[field] = null;
          return [{ id: row.id, payload: { ...payload, redacted: true } }];
        });
        if (rewrites.length > 0) {
          await this.db.transaction((tx) =>
            Promise.all(rewrites.map((r) => this.events.rewritePayload(tx, r.id, r.payload))),
          );
        }
        total += rewrites.length;
        const last = rows[rows.length - 1];
        this.redacted.set(type, { createdAt: last.createdAt, id: last.id });
        if (rows.length < BATCH) break;
      }
    }
    return total;
  }
}

function parsePayload(text: string): Record<string, unknown> | undefined {
  try {
    const value: unknown = JSON.parse(text);
    return value && typeof value === 'object' && !Array.isArray(value) ? (value as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}
