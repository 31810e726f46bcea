import { Inject, Injectable } from '@nestjs/common';
import { AppLogger } from '../../common/logging/app-logger';
import { Clock } from '../../common/clock';
import { SmsOutboxSettings } from './sms-outbox.settings';
import { Database } from '../../database/sql';
import { EventsRepository } from '../../common/events/events.repository';
import { aggregateOf } from '../../users/entities/user.entity';
import { UsersRepository } from '../../users/users.repository';
import { PhoneCodesRepository } from '../phone-codes.repository';
import { PhoneEvents } from '../phone-events';
import { PhoneMetrics } from '../phone.metrics';
import { RECEIPT_PARSERS, ReceiptParser } from '../sms/delivery-receipt';
import { SmsAccepted, SmsDeliveryError, SmsSender, withoutCode } from '../sms/sms-sender';
import { SmsText } from '../sms/sms-text';
import { OutboxCipher } from './outbox-cipher';
import { nextAttemptAt, RetrySettings } from './retry-schedule';
import { SmsOutboxEntity } from './sms-outbox.entity';
import { SmsOutboxRepository } from './sms-outbox.repository';
import { failedProvidersOf, MIN_CODE_LIFE_MS, SmsReceiptApplier } from './sms-receipt-applier';

/** Delivers one claimed outbox row: skip, send, retry later or give up, and record the outcome. */
@Injectable()
export class SmsDeliveryService {
  private readonly retry: RetrySettings;
  /** the providers whose receipts are taken */
  private readonly receipts: Set<string>;

  constructor(
    config: SmsOutboxSettings,
    private readonly db: Database,
    private readonly outbox: SmsOutboxRepository,
    private readonly cipher: OutboxCipher,
    private readonly sender: SmsSender,
    private readonly smsText: SmsText,
    private readonly users: UsersRepository,
    private readonly codes: PhoneCodesRepository,
    private readonly events: EventsRepository,
    private readonly clock: Clock,
    private readonly logger: AppLogger,
    private readonly metrics: PhoneMetrics,
    private readonly applier: SmsReceiptApplier,
    @Inject(RECEIPT_PARSERS) parsers: ReceiptParser[],
  ) {
    logger.setContext(SmsDeliveryService.name);
    this.receipts = new Set(parsers.map((parser) => parser.provider));
    this.retry = {
      baseMs: config.retryBaseMs,
      maxDelayMs: config.retryMaxDelayMs,
      maxAttempts: config.maxAttempts,
    };
  }

  async deliver(row: SmsOutboxEntity): Promise<void> {
    const now = this.clock.now();
    const target = await this.db.transaction(async (tx) => {
      const code = await this.codes.findByUser(tx, row.userId);
      const user = await this.users.findById(row.userId, tx);
      // a code about to die is not sent: the text would arrive with a dead code
      const current =
        code &&
        code.id === row.codeId &&
        !code.consumedAt &&
        code.expiresAt.getTime() - now.getTime() >= MIN_CODE_LIFE_MS;
      if (!current || !user || user.phone !== row.recipient || !row.sealedCode) {
        await this.outbox.finish(tx, row, 'skipped', now, { lastError: 'code superseded, consumed or expired' });
        return undefined;
      }
      return { user, expiresAt: code.expiresAt };
    });
    if (!target) return;

    let failure: SmsDeliveryError | undefined;
    let code: string | undefined;
    let accepted: SmsAccepted = { provider: this.sender.name };
    const failedBefore = failedProvidersOf(row);
    try {
      code = this.cipher.open(row.id, row.sealedCode!);
      const { user } = target;
      const text = this.smsText.render({ code, displayName: user.displayName, language: user.preferredLanguage });
      accepted = await this.sender.send({
        id: row.id,
        to: row.recipient,
        text,
        code,
        userId: row.userId,
        orgId: row.orgId,
        expiresAt: target.expiresAt,
        ...(failedBefore.length > 0 ? { skipProviders: failedBefore } : {}),
      });
    } catch (error) {
      const delivery =
        error instanceof SmsDeliveryError
          ? error
          : new SmsDeliveryError(String((error as Error)?.message ?? error), true);
      // the reason is logged, stored and put in an event: a provider echoing the text must not leak the code
      failure = code ? withoutCode(delivery, code) : delivery;
    }
    const at = this.clock.now();
    if (!failure) {
      // counted once the provider took it: a text sent twice (a lease lost mid-send) is billed twice
      const { provider, providerMessageId } = accepted;
      this.metrics.sent(provider);
      // with receipts, the code stays sealed while an undelivered receipt may still need another provider
      const keepSealed =
        providerMessageId !== undefined &&
        this.receipts.has(provider) &&
        this.applier.mayRetryAfter(provider, failedBefore, row.recipient);
      const concluded = await this.conclude(row, 'delivered', at, PhoneEvents.codeSent, {
        provider,
        providerMessageId,
        keepSealed,
      });
      // receipts that came before this answer was stored wait for it
      if (concluded && providerMessageId !== undefined && this.receipts.has(provider)) {
        await this.applier.apply(provider, providerMessageId);
      }
      return;
    }

    const next = failure.retryable
      ? nextAttemptAt(at.getTime(), row.attempts, row.giveUpAt.getTime(), this.retry)
      : undefined;
    const giveUp = next === undefined;
    this.logger.warn(
      {
        outboxId: row.id,
        userId: row.userId,
        attempt: row.attempts,
        retryable: failure.retryable,
        giveUp,
        reason: failure.message,
      },
      'SMS delivery failed',
    );
    this.metrics.attemptFailed(this.sender.name, !giveUp);
    if (!giveUp) {
      const [retryAt, reason] = [new Date(next), failure.message];
      return this.db.transaction((tx) => this.outbox.retryLater(tx, row, retryAt, reason));
    }
    const concluded = await this.conclude(row, 'failed', at, PhoneEvents.codeDeliveryFailed, {
      provider: this.sender.name,
      lastError: failure.message,
    });
    // once it is final: a row left pending by a failed commit is tried again and may still get through
    if (concluded) this.metrics.failed(this.sender.name, failure);
  }

  /** Final state of the row and the user's event, in one transaction; false when the lease was lost. */
  private async conclude(
    row: SmsOutboxEntity,
    status: 'delivered' | 'failed',
    at: Date,
    eventType: string,
    details: { provider: string; lastError?: string; providerMessageId?: string; keepSealed?: boolean },
  ): Promise<boolean> {
    return this.db.transaction(async (tx) => {
      // the user row before the outbox row, in the order SetPhone / ResendPhoneCode lock them (else they deadlock)
      const user = await this.users.findForUpdate(tx, row.userId);
      if (!(await this.outbox.finish(tx, row, status, at, details))) return false; // the lease was lost
      if (!user) return true;
      const payload =
        status === 'delivered'
          ? { provider: details.provider, attempts: row.attempts }
          : { provider: details.provider, attempts: row.attempts, reason: details.lastError };
      await this.events.append(tx, aggregateOf(user), [{ type: eventType, payload }], 'SYSTEM', at);
      return true;
    });
  }
}
