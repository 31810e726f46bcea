import { Injectable } from '@nestjs/common';
import { AppLogger } from '../../common/logging/app-logger';
import { ChannelWorkflow } from '../channels/channel-workflow';
import { channelOf, nextChannel } from '../channels/channel-routes';
import { PhoneEvents } from '../phone-events';
import { FallbackReason, PhoneMetrics } from '../phone.metrics';
import type { Channel } from '../sms/channels';
import { SmsOutboxEntity } from './sms-outbox.entity';

/** A move of a row to its workflow's next step: the row's fields, the user's event, what to count. */
export interface StepMove {
  fields: Partial<SmsOutboxEntity>;
  event: { type: string; payload: Record<string, unknown> };
  from: Channel;
  to: Channel;
  reason: FallbackReason;
}

/**
 * The next step of a code's channel workflow (ADR 0028): the same row, the same sealed code, the
 * next channel, due now; the provider's traces of the step left behind. The code's life and the
 * caller's checks (code current, row leased or locked) bound it.
 */
@Injectable()
export class ChannelSteps {
  constructor(
    private readonly workflow: ChannelWorkflow,
    private readonly metrics: PhoneMetrics,
    private readonly logger: AppLogger,
  ) {
    logger.setContext(ChannelSteps.name);
  }

  /** Whether a code may have a second step: then timed-out steps are looked for. */
  get fallsBack(): boolean {
    return this.workflow.fallsBack;
  }

  get shortestStepMs(): number {
    return this.workflow.shortestStepMs;
  }

  /** The channel after the row's current step, or undefined at its last. */
  next(row: SmsOutboxEntity): Channel | undefined {
    return nextChannel(row);
  }

  /** When the step the row starts now on its channel times out (null at the last step). */
  dueAt(row: SmsOutboxEntity, from: Date): Date | null {
    return this.workflow.stepDueAt(row, channelOf(row), from);
  }

  /** The move to the next step, or undefined at the last. */
  move(row: SmsOutboxEntity, reason: FallbackReason, now: Date, lastError: string): StepMove | undefined {
    const to = this.next(row);
    if (to === undefined) return undefined;
    const from = channelOf(row);
    const step = (row.step ?? 0) + 1;
    const moved = { channel: to, channels: row.channels ?? from, step };
    return {
      fields: {
        ...moved,
        status: 'pending',
        attempts: 0,
        nextAttemptAt: now,
        lockedUntil: null,
        finishedAt: null,
        provider: null,
        providerMessageId: null,
        deliveryStatus: null,
        deliveryError: null,
        deliveryStatusAt: null,
        failedProviders: null,
        lastError: lastError.slice(0, 500),
        stepDueAt: this.workflow.stepDueAt(moved, to, now),
      },
      event: { type: PhoneEvents.codeFallback, payload: { channel: from, nextChannel: to, reason, step } },
      from,
      to,
      reason,
    };
  }

  /** After the move's commit. */
  moved(row: SmsOutboxEntity, { from, to, reason }: StepMove): void {
    this.metrics.fallback(from, to, reason);
    this.logger.warn(
      { outboxId: row.id, userId: row.userId, channel: from, nextChannel: to, reason },
      `Code not delivered by ${from}, going on with ${to}`,
    );
  }
}
