import { Injectable } from '@nestjs/common';
import { Clock } from '../../common/clock';
import { EventsRepository } from '../../common/events/events.repository';
import { Database } from '../../database/sql';
import { aggregateOf } from '../../users/entities/user.entity';
import { UsersRepository } from '../../users/users.repository';
import { PhoneEvents } from '../phone-events';
import { PhoneMetrics } from '../phone.metrics';
import { advances, isFailure, STATUS_RANK } from '../sms/delivery-receipt';
import { SmsSpendGuard } from '../spend/sms-spend-guard';
import { SmsOutboxEntity } from './sms-outbox.entity';
import { SmsOutboxRepository } from './sms-outbox.repository';
import { Failover, SmsReceiptFailover } from './sms-receipt-failover';
import { channelOf } from '../channels/channel-routes';

export { failedProvidersOf } from './sms-receipt-failover';

/** What applying a message's waiting receipts did. */
export type ReceiptOutcome = 'none' | 'waiting' | 'updated' | 'delivered' | 'retry' | 'fallback' | 'failed';

/**
 * Applies a message's waiting receipts in one transaction (user row locked first, as everywhere):
 * the status only moves up; `undelivered` of a sent message goes to SmsReceiptFailover (another
 * provider, the next channel, or the end). Receipts are written down before they are applied,
 * so one that beat the send's answer is applied by whichever runs last; running twice changes nothing.
 */
@Injectable()
export class SmsReceiptApplier {
  constructor(
    private readonly db: Database,
    private readonly outbox: SmsOutboxRepository,
    private readonly users: UsersRepository,
    private readonly events: EventsRepository,
    private readonly failover: SmsReceiptFailover,
    private readonly clock: Clock,
    private readonly metrics: PhoneMetrics,
    private readonly spend: SmsSpendGuard,
  ) {}

  async apply(provider: string, providerMessageId: string): Promise<ReceiptOutcome> {
    const found = await this.outbox.findByProviderMessage(undefined, provider, providerMessageId);
    if (!found) return 'waiting';
    const result = await this.db.transaction(async (tx) => {
      const user = await this.users.findForUpdate(tx, found.userId);
      const row = await this.outbox.findForUpdate(tx, found.id);
      // the row moved on (queued again, or another provider took it) since it was found
      if (!row || row.provider !== provider || row.providerMessageId !== providerMessageId) return undefined;
      const receipts = await this.outbox.takeReceipts(tx, provider, providerMessageId);
      if (receipts.length === 0) return undefined;
      // a reported price replaces what the message was counted at, whatever the status does
      const priced = receipts.find((receipt) => receipt.priceMicros != null);
      const spend = priced
        ? await this.spend.reported(tx, row, provider, { micros: priced.priceMicros!, currency: priced.priceCurrency })
        : undefined;

      let status = row.deliveryStatus ?? null;
      let errorCode = row.deliveryError ?? null;
      let at = row.deliveryStatusAt ?? null;
      const ordered = [...receipts].sort(
        (a, b) => STATUS_RANK[a.status] - STATUS_RANK[b.status] || a.statusAt.getTime() - b.statusAt.getTime(),
      );
      for (const receipt of ordered) {
        if (!advances(status, receipt.status)) continue;
        [status, errorCode, at] = [receipt.status, receipt.errorCode, receipt.statusAt];
      }
      if (status === row.deliveryStatus || status === null) {
        if (spend) await this.outbox.update(tx, row.id, spend);
        return { outcome: 'none' as const, row };
      }

      const now = this.clock.now();
      const fields: Partial<SmsOutboxEntity> = {
        deliveryStatus: status,
        deliveryError: errorCode,
        deliveryStatusAt: at,
        ...spend,
      };
      let outcome: ReceiptOutcome = 'updated';
      let event: { type: string; payload: Record<string, unknown> } | undefined;
      let failover: Failover | undefined;
      if (status === 'delivered') {
        // believed over an earlier undelivered / failed receipt: the handset has the text; the workflow ends
        Object.assign(fields, { sealedCode: null, status: 'delivered', lastError: null, stepDueAt: null });
        outcome = 'delivered';
        event = { type: PhoneEvents.codeDelivered, payload: { provider, status, channel: channelOf(row) } };
      } else if (isFailure(status) && row.status === 'delivered') {
        failover = await this.failover.decide(tx, row, user, { provider, status, errorCode }, now);
        Object.assign(fields, failover.fields);
        ({ outcome, event } = failover);
      }
      await this.outbox.update(tx, row.id, fields);
      const context = { correlationId: row.correlationId ?? undefined, phone: row.recipient };
      if (event && user) await this.events.append(tx, aggregateOf(user), [event], 'SYSTEM', now, context);
      return { outcome, row, status, errorCode, failover };
    });
    if (!result) return 'none';
    const { outcome, row } = result;
    if (result.status) this.metrics.channelReceipt(channelOf(row), result.status);
    if (outcome === 'delivered') this.metrics.delivered(provider);
    if (result.failover && result.status) {
      this.failover.reported(row, result.failover, {
        provider,
        status: result.status,
        errorCode: result.errorCode ?? null,
      });
    }
    return outcome;
  }
}
