import { Injectable } from '@nestjs/common';
import { AppLogger } from '../../common/logging/app-logger';
import type { Tx } from '../../database/sql';
import type { UserEntity } from '../../users/entities/user.entity';
import { PhoneEvents } from '../phone-events';
import { PhoneMetrics } from '../phone.metrics';
import { DeliveryStatus } from '../sms/delivery-receipt';
import { channelOf } from '../channels/channel-routes';
import type { StepMove } from './channel-steps';
import { SmsOutboxEntity } from './sms-outbox.entity';
import { SmsRetryPolicy } from './sms-retry-policy';

/** What an undelivered receipt leads to: the row's fields, the user's event, the move to report. */
export interface Failover {
  outcome: 'retry' | 'fallback' | 'failed';
  fields: Partial<SmsOutboxEntity>;
  event?: { type: string; payload: Record<string, unknown> };
  move?: StepMove;
}

/** The providers a message failed through, as its row keeps them. */
export function failedProvidersOf(row: Pick<SmsOutboxEntity, 'failedProviders'>): string[] {
  return row.failedProviders ? row.failedProviders.split(',') : [];
}

/**
 * A sent message reported undelivered: while its code is current it goes out again through the
 * SMS providers that have not failed it (ADR 0014), else through the workflow's next channel
 * (ADR 0028), else the workflow ends; `reported` counts and logs that after the commit.
 */
@Injectable()
export class SmsReceiptFailover {
  constructor(
    private readonly policy: SmsRetryPolicy,
    private readonly metrics: PhoneMetrics,
    private readonly logger: AppLogger,
  ) {
    // the receipts' lines keep the context of the applier they come from
    logger.setContext('SmsReceiptApplier');
  }

  async decide(
    tx: Tx,
    row: SmsOutboxEntity,
    user: UserEntity | undefined,
    receipt: { provider: string; status: DeliveryStatus; errorCode: string | null },
    now: Date,
  ): Promise<Failover> {
    const { provider, status, errorCode } = receipt;
    const channel = channelOf(row);
    const failedProviders = [...failedProvidersOf(row), provider];
    const reason = `${provider}: ${status}${errorCode ? ` (${errorCode})` : ''}`;
    const current = await this.policy.stillCurrent(tx, row, user, now);
    const fields: Partial<SmsOutboxEntity> = { failedProviders: failedProviders.join(','), lastError: reason };
    if (current && channel === 'sms' && this.policy.mayRetryAfter(provider, failedProviders, row.recipient)) {
      // through the providers that have not failed it (SmsMessage.skipProviders), now
      Object.assign(fields, {
        status: 'pending',
        nextAttemptAt: now,
        lockedUntil: null,
        finishedAt: null,
        providerMessageId: null,
      });
      return { outcome: 'retry', fields };
    }
    const move = current ? this.policy.nextStep(row, 'undelivered', now, `${channel}: ${reason}`) : undefined;
    if (move) {
      // the same code through the workflow's next channel, now
      return { outcome: 'fallback', fields: { ...fields, ...move.fields }, event: move.event, move };
    }
    Object.assign(fields, { status: 'failed', sealedCode: null, finishedAt: now, stepDueAt: null });
    const payload = { provider, status, errorCode: errorCode ?? undefined, attempts: row.attempts, channel };
    return { outcome: 'failed', fields, event: { type: PhoneEvents.codeDeliveryFailed, payload } };
  }

  /** After the commit: the move counted and logged, or the retry / the end logged. */
  reported(
    row: SmsOutboxEntity,
    failover: Failover,
    receipt: { provider: string; status: DeliveryStatus; errorCode: string | null },
  ): void {
    const { provider, status, errorCode } = receipt;
    if (failover.move) this.policy.moved(row, failover.move);
    if (failover.outcome === 'fallback') return;
    const retry = failover.outcome === 'retry';
    if (!retry) this.metrics.undelivered(provider);
    this.logger.warn(
      { outboxId: row.id, userId: row.userId, provider, status, errorCode: errorCode ?? undefined, retry },
      retry ? 'SMS undelivered, sending it through the next provider' : 'SMS undelivered',
    );
  }
}
