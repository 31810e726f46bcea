import { Inject, Injectable } from '@nestjs/common';
import { AppLogger } from '../../common/logging/app-logger';
import { PhoneEvents } from '../phone-events';
import { PhoneMetrics } from '../phone.metrics';
import { RECEIPT_PARSERS, ReceiptParser } from '../sms/delivery-receipt';
import { SmsAccepted, SmsDeliveryError } from '../sms/sms-sender';
import { nextAttemptAt, RetrySettings } from './retry-schedule';
import { SmsDeliveryRows } from './sms-delivery-rows';
import { SmsOutboxEntity } from './sms-outbox.entity';
import { SmsOutboxSettings } from './sms-outbox.settings';
import { SmsReceiptApplier } from './sms-receipt-applier';
import { SmsRetryPolicy } from './sms-retry-policy';
import { channelOf } from '../channels/channel-routes';
import { ChannelSteps } from './channel-steps';

/** Records how a send went: the row and the user's event, the metrics, a retry or the end. */
@Injectable()
export class SmsDeliveryOutcomes {
  private readonly retry: RetrySettings;
  /** the providers whose receipts are taken */
  private readonly receipts: Set<string>;

  constructor(
    config: SmsOutboxSettings,
    private readonly rows: SmsDeliveryRows,
    private readonly applier: SmsReceiptApplier,
    private readonly policy: SmsRetryPolicy,
    private readonly metrics: PhoneMetrics,
    private readonly logger: AppLogger,
    @Inject(RECEIPT_PARSERS) parsers: ReceiptParser[],
    private readonly steps: ChannelSteps,
  ) {
    // the delivery's lines, under one context for every step of a send
    logger.setContext('SmsDeliveryService');
    this.receipts = new Set(parsers.map((parser) => parser.provider));
    this.retry = {
      baseMs: config.retryBaseMs,
      maxDelayMs: config.retryMaxDelayMs,
      maxAttempts: config.maxAttempts,
    };
  }

  async accepted(row: SmsOutboxEntity, accepted: SmsAccepted, failedBefore: string[], at: Date): Promise<void> {
    // counted once the provider took it: a text sent twice (a lease lost mid-send) is billed twice
    const { provider, providerMessageId, verificationId } = accepted;
    const channel = channelOf(row);
    this.metrics.sent(provider);
    this.metrics.channelSend(channel, 'accepted');
    // the code stays sealed while an undelivered receipt may still need another SMS provider, or the
    // step may still time out into the next channel
    const stepDueAt = this.steps.dueAt(row, at);
    const keepSealed =
      stepDueAt !== null ||
      (channel === 'sms' &&
        providerMessageId !== undefined &&
        this.receipts.has(provider) &&
        this.policy.mayRetryAfter(provider, failedBefore, row.recipient));
    const concluded = await this.rows.conclude(row, {
      status: 'delivered',
      at,
      eventType: PhoneEvents.codeSent,
      details: { provider, providerMessageId, keepSealed, verificationId, stepDueAt },
    });
    // receipts that came before this answer was stored wait for it
    if (concluded && providerMessageId !== undefined && this.receipts.has(provider)) {
      await this.applier.apply(provider, providerMessageId);
    }
  }

  /**
   * A failed send through `provider` (the chain): tried again with back-off (within the step's
   * timeout when a next channel waits), or the step given up: on to the next channel, or the end.
   */
  async failed(row: SmsOutboxEntity, failure: SmsDeliveryError, provider: string, at: Date): Promise<void> {
    const channel = channelOf(row);
    const stepEnd = this.steps.next(row) && row.stepDueAt ? row.stepDueAt.getTime() : Infinity;
    const next = failure.retryable
      ? nextAttemptAt(at.getTime(), row.attempts, Math.min(row.giveUpAt.getTime(), stepEnd), this.retry)
      : undefined;
    const giveUp = next === undefined;
    this.logger.warn(
      {
        outboxId: row.id,
        userId: row.userId,
        attempt: row.attempts,
        retryable: failure.retryable,
        giveUp,
        channel,
        reason: failure.message,
      },
      'SMS delivery failed',
    );
    this.metrics.attemptFailed(provider, !giveUp);
    this.metrics.channelSend(channel, giveUp ? 'failed' : 'retry');
    if (!giveUp) return this.rows.retryLater(row, new Date(next), failure.message);
    const move = this.steps.move(row, 'failed', at, `${channel}: ${failure.message}`);
    if (move) {
      if (await this.rows.advance(row, move, at)) this.steps.moved(row, move);
      return;
    }
    const concluded = await this.rows.conclude(row, {
      status: 'failed',
      at,
      eventType: PhoneEvents.codeDeliveryFailed,
      details: { provider, lastError: failure.message },
    });
    // once it is final: a row left pending by a failed commit is tried again and may still get through
    if (concluded) this.metrics.failed(provider, failure);
  }
}
