import { Injectable } from '@nestjs/common';
import { Clock } from '../../common/clock';
import { Database } from '../../database/sql';
import { SmsOutboxRepository } from './sms-outbox.repository';
import { SmsOutboxWorker } from './sms-outbox.worker';
import { SmsReceiptApplier } from './sms-receipt-applier';
import { IncomingReceipt, SmsReceiptReader } from './sms-receipt-reader';

export type { IncomingReceipt };

/**
 * Takes a provider's receipts: written down, then applied. One for a message not known yet is
 * acknowledged all the same (it waits for the send's answer): providers retry anything but a 2xx.
 */
@Injectable()
export class SmsReceiptsService {
  constructor(
    private readonly reader: SmsReceiptReader,
    private readonly db: Database,
    private readonly outbox: SmsOutboxRepository,
    private readonly applier: SmsReceiptApplier,
    private readonly worker: SmsOutboxWorker,
    private readonly clock: Clock,
  ) {}

  /** The answer to a provider's endpoint challenge (Meta's `hub.challenge`), or undefined when the request is none. */
  challenge(provider: string, query: string): string | undefined {
    return this.reader.challenge(provider, query);
  }

  async receive(provider: string, request: IncomingReceipt): Promise<void> {
    const receipts = this.reader.read(provider, request);
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
          priceMicros: receipt.price?.micros ?? null,
          priceCurrency: receipt.price?.currency ?? null,
        });
      }
    });
    this.reader.count(provider, receipts);
    const ids = new Set(receipts.map((r) => r.providerMessageId));
    await this.applyWaiting([...ids].map((providerMessageId) => ({ provider, providerMessageId })));
  }

  /** Applies the receipts waiting for these messages; a message that goes to another provider wakes the worker. */
  async applyWaiting(messages: Iterable<{ provider: string; providerMessageId: string }>): Promise<void> {
    let retry = false;
    for (const { provider, providerMessageId } of messages) {
      const outcome = await this.applier.apply(provider, providerMessageId);
      retry = outcome === 'retry' || outcome === 'fallback' || retry;
    }
    if (retry) this.worker.kick();
  }
}
