import { Inject, Injectable, OnApplicationBootstrap, OnModuleDestroy } from '@nestjs/common';
import { databaseFault } from '../../common/errors/dependency-error';
import { DependencyOutages } from '../../common/errors/dependency-outages';
import { Clock } from '../../common/clock';
import { RetentionSettings } from '../retention/retention.settings';
import { SmsSettings } from '../sms/sms.settings';
import { AppLogger } from '../../common/logging/app-logger';
import { Database } from '../../database/sql';
import { PhoneErrors } from '../phone.errors';
import { PhoneMetrics } from '../phone.metrics';
import {
  DELIVERY_STATUSES,
  DeliveryReceipt,
  isFailure,
  RECEIPT_PARSERS,
  ReceiptParser,
  ReceiptRejected,
  receiptUrl,
} from '../sms/delivery-receipt';
import { SmsOutboxRepository } from './sms-outbox.repository';
import { SmsOutboxWorker } from './sms-outbox.worker';
import { SmsReceiptApplier } from './sms-receipt-applier';

/** How often sealed codes that no retry can need any more are erased. */
export const SWEEP_INTERVAL_MS = 60_000;
/** How far back (by when they were last due) a sweep looks for kept codes. */
const SWEEP_WINDOW_MS = 2 * 24 * 3600_000;
/** Messages whose waiting receipts one sweep applies. */
const SWEEP_BATCH = 100;

/** A receipt request as the REST adapter hands it over. */
export interface IncomingReceipt {
  /** the request's query string with its "?", or "" (Twilio signs it with the URL) */
  query: string;
  headers: Readonly<Record<string, string | string[] | undefined>>;
  rawBody: Buffer;
}

/**
 * Takes the delivery receipts of one provider: its parser checks the signature and reads the
 * body; each receipt is written down (sms_receipts), then applied to the message it names. A
 * receipt of a message we do not know (yet) is acknowledged all the same: it waits for the
 * send's answer, and providers retry every answer but a 2xx.
 */
@Injectable()
export class SmsReceiptsService implements OnApplicationBootstrap, OnModuleDestroy {
  private readonly parsers = new Map<string, ReceiptParser>();
  private timer?: NodeJS.Timeout;
  private swept = false;

  constructor(
    private readonly config: SmsSettings,
    private readonly retention: RetentionSettings,
    @Inject(RECEIPT_PARSERS) parsers: ReceiptParser[],
    private readonly db: Database,
    private readonly outbox: SmsOutboxRepository,
    private readonly applier: SmsReceiptApplier,
    private readonly worker: SmsOutboxWorker,
    private readonly clock: Clock,
    private readonly metrics: PhoneMetrics,
    private readonly logger: AppLogger,
    private readonly outages: DependencyOutages,
  ) {
    logger.setContext(SmsReceiptsService.name);
    for (const parser of parsers) this.parsers.set(parser.provider, parser);
    metrics.receiptProviders([...this.parsers.keys()], DELIVERY_STATUSES);
  }

  onApplicationBootstrap(): void {
    if (this.parsers.size === 0) return;
    this.timer = setInterval(() => void this.sweep().catch(() => undefined), SWEEP_INTERVAL_MS);
    this.timer.unref();
  }

  onModuleDestroy(): void {
    if (this.timer) clearInterval(this.timer);
  }

  /**
   * Every minute: erases the sealed codes accepted messages kept for a retry once their code was
   * verified, replaced or expired, drops receipts that waited SMS_RECEIPT_RETENTION for their message, and applies
   * receipts left waiting although their message is known (an apply cut short by an outage).
   * Returns the codes erased.
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
      let retry = false;
      for (const { provider, providerMessageId } of await this.outbox.messagesWithWaitingReceipts(SWEEP_BATCH)) {
        retry = (await this.applier.apply(provider, providerMessageId)) === 'retry' || retry;
      }
      if (retry) this.worker.kick();
      return erased;
    } catch (error) {
      const fault = databaseFault(error);
      if (fault) this.outages.failed(fault);
      else this.logger.error({ err: error }, 'SMS outbox sweep failed');
      return 0;
    }
  }

  /** Whether `provider`'s receipts are taken (SMS_RECEIPTS_BASE_URL set and it has a parser). */
  takes(provider: string): boolean {
    return this.parsers.has(provider);
  }

  async receive(provider: string, request: IncomingReceipt): Promise<void> {
    const parser = this.parsers.get(provider);
    if (!parser || !this.config.receiptsBaseUrl) {
      this.metrics.receiptRejected('unknown', 'receipts_off');
      throw PhoneErrors.receiptsOff(provider.slice(0, 40));
    }
    let receipts: DeliveryReceipt[];
    try {
      receipts = parser.parse({
        url: receiptUrl(this.config.receiptsBaseUrl, provider) + request.query,
        headers: request.headers,
        rawBody: request.rawBody,
      });
    } catch (error) {
      if (!(error instanceof ReceiptRejected)) throw error;
      const signature = error.status === 401;
      this.metrics.receiptRejected(provider, signature ? 'signature' : 'malformed');
      this.logger.warn({ provider, reason: error.message }, 'SMS delivery receipt refused');
      throw signature ? PhoneErrors.receiptNotAuthentic(error.message) : PhoneErrors.receiptMalformed(error.message);
    }
    if (receipts.length === 0) return;
    const now = this.clock.now();
    await this.db.transaction(async (tx) => {
      for (const receipt of receipts) {
        await this.outbox.recordReceipt(tx, {
          provider,
          providerMessageId: receipt.providerMessageId,
          status: receipt.status,
          errorCode: receipt.errorCode?.slice(0, 64) ?? null,
          statusAt: receipt.at ?? now,
          receivedAt: now,
        });
      }
    });
    for (const receipt of receipts) {
      const failure = isFailure(receipt.status);
      this.metrics.receipt(provider, receipt.status, failure ? parser.errorLabel(receipt.errorCode ?? '') : undefined);
    }
    let retry = false;
    for (const id of new Set(receipts.map((r) => r.providerMessageId))) {
      retry = (await this.applier.apply(provider, id)) === 'retry' || retry;
    }
    if (retry) this.worker.kick();
  }
}
