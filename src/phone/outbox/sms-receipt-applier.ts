import { Injectable } from '@nestjs/common';
import { Clock } from '../../common/clock';
import { EventsRepository } from '../../common/events/events.repository';
import { AppLogger } from '../../common/logging/app-logger';
import { Database } from '../../database/sql';
import { aggregateOf } from '../../users/entities/user.entity';
import { UsersRepository } from '../../users/users.repository';
import { PhoneEvents } from '../phone-events';
import { PhoneMetrics } from '../phone.metrics';
import { advances, DeliveryStatus, isFailure, STATUS_RANK } from '../sms/delivery-receipt';
import { SmsSpendGuard } from '../spend/sms-spend-guard';
import { SmsOutboxEntity } from './sms-outbox.entity';
import { SmsOutboxRepository } from './sms-outbox.repository';
import { SmsRetryPolicy } from './sms-retry-policy';
import { channelOf } from '../channels/channel-routes';
import type { StepMove } from './channel-steps';

/** What applying a message's waiting receipts did. */
export type ReceiptOutcome = 'none' | 'waiting' | 'updated' | 'delivered' | 'retry' | 'fallback' | 'failed';

/** The providers a message failed through, as its row keeps them. */
export function failedProvidersOf(row: Pick<SmsOutboxEntity, 'failedProviders'>): string[] {
  return row.failedProviders ? row.failedProviders.split(',') : [];
}

/**
 * Applies a message's waiting receipts in one transaction (user row locked first, as everywhere):
 * the status only moves up; `undelivered` while the code is current sends it again through the
 * SMS providers that have not failed it (ADR 0014), else through the workflow's next channel (ADR 0028). Receipts are written down before they are applied,
 * so one that beat the send's answer is applied by whichever runs last; running twice changes nothing.
 */
@Injectable()
export class SmsReceiptApplier {
  constructor(
    private readonly db: Database,
    private readonly outbox: SmsOutboxRepository,
    private readonly users: UsersRepository,
    private readonly events: EventsRepository,
    private readonly policy: SmsRetryPolicy,
    private readonly clock: Clock,
    private readonly metrics: PhoneMetrics,
    private readonly logger: AppLogger,
    private readonly spend: SmsSpendGuard,
  ) {
    logger.setContext(SmsReceiptApplier.name);
  }

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
      let move: StepMove | undefined;
      const channel = channelOf(row);
      const failedProviders = failedProvidersOf(row);
      if (status === 'delivered') {
        // believed over an earlier undelivered / failed receipt: the handset has the text; the workflow ends
        Object.assign(fields, { sealedCode: null, status: 'delivered', lastError: null, stepDueAt: null });
        outcome = 'delivered';
        event = { type: PhoneEvents.codeDelivered, payload: { provider, status, channel } };
      } else if (isFailure(status) && row.status === 'delivered') {
        failedProviders.push(provider);
        const reason = `${provider}: ${status}${errorCode ? ` (${errorCode})` : ''}`;
        const current = await this.policy.stillCurrent(tx, row, user, now);
        Object.assign(fields, { failedProviders: failedProviders.join(','), lastError: reason });
        move = current ? this.policy.nextStep(row, 'undelivered', now, `${channel}: ${reason}`) : undefined;
        if (current && channel === 'sms' && this.policy.mayRetryAfter(provider, failedProviders, row.recipient)) {
          move = undefined;
          // through the providers that have not failed it (SmsMessage.skipProviders), now
          Object.assign(fields, {
            status: 'pending',
            nextAttemptAt: now,
            lockedUntil: null,
            finishedAt: null,
            providerMessageId: null,
          });
          outcome = 'retry';
        } else if (move) {
          // the same code through the workflow's next channel, now
          Object.assign(fields, move.fields);
          outcome = 'fallback';
          event = move.event;
        } else {
          Object.assign(fields, { status: 'failed', sealedCode: null, finishedAt: now, stepDueAt: null });
          outcome = 'failed';
          event = {
            type: PhoneEvents.codeDeliveryFailed,
            payload: { provider, status, errorCode: errorCode ?? undefined, attempts: row.attempts, channel },
          };
        }
      }
      await this.outbox.update(tx, row.id, fields);
      const context = { correlationId: row.correlationId ?? undefined, phone: row.recipient };
      if (event && user) await this.events.append(tx, aggregateOf(user), [event], 'SYSTEM', now, context);
      return { outcome, row, status, errorCode, move };
    });
    if (!result) return 'none';
    const { outcome, row } = result;
    if (result.status) this.metrics.channelReceipt(channelOf(row), result.status);
    if (result.move) this.policy.moved(row, result.move);
    if (outcome === 'delivered') this.metrics.delivered(provider);
    if (outcome === 'failed') this.metrics.undelivered(provider);
    if (outcome === 'retry' || outcome === 'failed') {
      this.logger.warn(
        {
          outboxId: row.id,
          userId: row.userId,
          provider,
          status: result.status as DeliveryStatus,
          errorCode: result.errorCode ?? undefined,
          retry: outcome === 'retry',
        },
        outcome === 'retry' ? 'SMS undelivered, sending it through the next provider' : 'SMS undelivered',
      );
    }
    return outcome;
  }
}
