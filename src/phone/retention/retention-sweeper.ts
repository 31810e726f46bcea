import { Injectable, OnApplicationBootstrap, OnModuleDestroy } from '@nestjs/common';
import { Counter } from 'prom-client';
import { Clock } from '../../common/clock';
import { AppConfig } from '../../common/config/app-config.module';
import { databaseFault } from '../../common/errors/dependency-error';
import { DependencyOutages } from '../../common/errors/dependency-outages';
import { EventPosition, EventsRepository } from '../../common/events/events.repository';
import { LimitBackoffsRepository } from '../../common/limits/limit-backoffs.repository';
import { LimitHitsRepository } from '../../common/limits/limit-hits.repository';
import { AppLogger } from '../../common/logging/app-logger';
import { Metrics } from '../../common/metrics/metrics';
import { Database, Tx } from '../../database/sql';
import { SmsFraudCountsRepository } from '../fraud/sms-fraud-counts.repository';
import { hourOf } from '../fraud/sms-fraud-store';
import { SmsOutboxRepository } from '../outbox/sms-outbox.repository';
import { PhoneEvents } from '../phone-events';

/** How often each instance prunes (every instance does; the deletes are idempotent). */
export const RETENTION_SWEEP_INTERVAL_MS = 10 * 60_000;
/** Rows one statement deletes or one transaction redacts: no sweep holds a lock for long. */
const BATCH = 500;
/** The longest window of a rate limit (a day): a limit hit older than that counts for nothing. */
const LONGEST_LIMIT_WINDOW_MS = 86_400_000;

/** The fields of an event payload that hold a phone number (or a prefix of one), by event type. */
export const PHONE_FIELDS: Record<string, string[]> = {
  [PhoneEvents.changed]: ['phone'],
  [PhoneEvents.codeSendBlocked]: ['prefix'],
};

/** What one sweep pruned, by what. */
export interface Pruned {
  outbox: number;
  receipts: number;
  fraud_counts: number;
  verified_numbers: number;
  limit_hits: number;
  limit_backoffs: number;
  event_phones: number;
}

/**
 * Keeps the tables that grow with traffic bounded, on SQLite and PostgreSQL alike: deletes the
 * outbox messages that ended SMS_OUTBOX_RETENTION ago (their recipient's number with them), the
 * receipts that waited SMS_RECEIPT_RETENTION for their message, the pumping guard's counters past
 * SMS_FRAUD_COUNTER_RETENTION (and numbers verified before SMS_FRAUD_REMEMBER_VERIFIED), rate-limit
 * hits and back-offs that count for nothing any more; and redacts the phone numbers in events
 * older than EVENT_PHONE_RETENTION (the events stay, their sequence intact). Every
 * RETENTION_SWEEP_INTERVAL_MS, on a timer of the instance, as the outbox worker's.
 */
@Injectable()
export class RetentionSweeper implements OnApplicationBootstrap, OnModuleDestroy {
  private timer?: NodeJS.Timeout;
  private running?: Promise<Pruned | undefined>;
  /** how far each type's events were redacted (this process: the first sweep walks them all once) */
  private readonly redacted = new Map<string, EventPosition>();
  private readonly pruned: Counter<'what'>;

  constructor(
    private readonly config: AppConfig,
    private readonly db: Database,
    private readonly outbox: SmsOutboxRepository,
    private readonly fraudCounts: SmsFraudCountsRepository,
    private readonly limitHits: LimitHitsRepository,
    private readonly backoffs: LimitBackoffsRepository,
    private readonly events: EventsRepository,
    private readonly clock: Clock,
    private readonly logger: AppLogger,
    private readonly outages: DependencyOutages,
    metrics: Metrics,
  ) {
    logger.setContext(RetentionSweeper.name);
    this.pruned = new Counter({
      name: 'pv_retention_pruned_total',
      help: 'Rows the retention sweep deleted (or, for event_phones, redacted), by what',
      labelNames: ['what'],
      registers: [metrics.registry],
    });
  }

  onApplicationBootstrap(): void {
    this.timer = setInterval(() => void this.sweep(), RETENTION_SWEEP_INTERVAL_MS);
    this.timer.unref();
  }

  async onModuleDestroy(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    await this.running;
  }

  /** One sweep (one at a time); what it pruned, or undefined when the database failed it (retried next time). */
  sweep(): Promise<Pruned | undefined> {
    this.running ??= this.sweepOnce().finally(() => (this.running = undefined));
    return this.running;
  }

  private async sweepOnce(): Promise<Pruned | undefined> {
    const now = this.clock.now();
    const ago = (ms: number) => new Date(now.getTime() - ms);
    try {
      const fraud = await this.db.transaction((tx) =>
        this.fraudCounts.prune(
          tx,
          hourOf(now) - this.config.SMS_FRAUD_COUNTER_RETENTION,
          now.getTime() - this.config.SMS_FRAUD_REMEMBER_VERIFIED,
        ),
      );
      const pruned: Pruned = {
        outbox: await this.inBatches((tx) =>
          this.outbox.removeEnded(tx, ago(this.config.SMS_OUTBOX_RETENTION), now, BATCH),
        ),
        receipts: await this.db.transaction((tx) =>
          this.outbox.removeReceiptsBefore(tx, ago(this.config.SMS_RECEIPT_RETENTION)),
        ),
        fraud_counts: fraud.counts,
        verified_numbers: fraud.numbers,
        limit_hits: await this.inBatches((tx) =>
          this.limitHits.removeUntil(tx, now.getTime() - LONGEST_LIMIT_WINDOW_MS, BATCH),
        ),
        limit_backoffs: await this.db.transaction((tx) => this.backoffs.removeExpired(tx, now.getTime())),
        event_phones: await this.redactPhones(ago(this.config.EVENT_PHONE_RETENTION)),
      };
      for (const [what, count] of Object.entries(pruned)) if (count > 0) this.pruned.inc({ what }, count);
      if (Object.values(pruned).some((count) => count > 0)) this.logger.info({ pruned }, 'Retention sweep');
      return pruned;
    } catch (error) {
      const fault = databaseFault(error);
      if (fault) this.outages.failed(fault);
      else this.logger.error({ err: error }, 'Retention sweep failed');
      return undefined;
    }
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
        const rows = await this.events.ofTypeBefore(type, before, after, BATCH);
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
