import { Injectable } from '@nestjs/common';
import { AppLogger } from '../../common/logging/app-logger';
import { Clock } from '../../common/clock';
import { AppConfig } from '../../common/config/app-config.module';
import { TransactionRunner } from '../../common/database/transaction-runner';
import { EventStore } from '../../common/events/event-store';
import { aggregateOf } from '../../users/user-aggregate';
import { UsersRepository } from '../../users/users.repository';
import { PhoneCodesRepository } from '../phone-codes.repository';
import { PhoneEvents } from '../phone-events';
import { SmsDeliveryError, SmsSender, withoutCode } from '../sms/sms-sender';
import { SmsText } from '../sms/sms-text';
import { OutboxCipher } from './outbox-cipher';
import { SmsOutboxEntity } from './sms-outbox.entity';
import { SmsOutboxRepository } from './sms-outbox.repository';

const MAX_BACKOFF_MS = 300_000;

/** Delivers one claimed outbox row: skip, send, retry later or give up, and record the outcome. */
@Injectable()
export class SmsDeliveryService {
  constructor(
    private readonly config: AppConfig,
    private readonly tx: TransactionRunner,
    private readonly outbox: SmsOutboxRepository,
    private readonly cipher: OutboxCipher,
    private readonly sender: SmsSender,
    private readonly smsText: SmsText,
    private readonly users: UsersRepository,
    private readonly codes: PhoneCodesRepository,
    private readonly events: EventStore,
    private readonly clock: Clock,
    private readonly logger: AppLogger,
  ) {
    logger.setContext(SmsDeliveryService.name);
  }

  async deliver(row: SmsOutboxEntity): Promise<void> {
    const now = this.clock.now();
    const target = await this.tx.run(async (manager) => {
      const code = await this.codes.findByUser(manager, row.userId);
      const user = await this.users.findById(row.userId, manager);
      const current = code && code.id === row.codeId && !code.consumedAt && code.expiresAt > now;
      if (!current || !user || user.phone !== row.recipient || !row.sealedCode) {
        await this.outbox.finish(manager, row, 'skipped', now, { lastError: 'code superseded, consumed or expired' });
        return undefined;
      }
      return user;
    });
    if (!target) return;

    let failure: SmsDeliveryError | undefined;
    let code: string | undefined;
    let provider = this.sender.name;
    try {
      code = this.cipher.open(row.id, row.sealedCode!);
      const text = this.smsText.render({ code, displayName: target.displayName, language: target.preferredLanguage });
      const accepted = await this.sender.send({
        id: row.id,
        to: row.recipient,
        text,
        code,
        userId: row.userId,
        orgId: row.orgId,
      });
      if (accepted) provider = accepted;
    } catch (error) {
      const delivery =
        error instanceof SmsDeliveryError
          ? error
          : new SmsDeliveryError(String((error as Error)?.message ?? error), true);
      // the reason is logged, stored and put in an event: a provider echoing the text must not leak the code
      failure = code ? withoutCode(delivery, code) : delivery;
    }
    const at = this.clock.now();
    if (!failure) return this.conclude(row, 'delivered', at, PhoneEvents.codeSent, { provider });

    const backoff = this.backoff(row.attempts);
    const giveUp =
      !failure.retryable ||
      row.attempts >= this.config.SMS_MAX_ATTEMPTS ||
      at.getTime() + backoff > row.giveUpAt.getTime();
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
    if (!giveUp) return this.outbox.retryLater(row, new Date(at.getTime() + backoff), failure.message);
    return this.conclude(row, 'failed', at, PhoneEvents.codeDeliveryFailed, {
      provider: this.sender.name,
      lastError: failure.message,
    });
  }

  /** Exponential back-off with jitter: base·2^(n-1), drawn uniformly from its upper half, capped. */
  backoff(attempts: number): number {
    const ceiling = Math.min(MAX_BACKOFF_MS, this.config.SMS_RETRY_BASE * 2 ** Math.max(0, attempts - 1));
    return Math.round(ceiling / 2 + Math.random() * (ceiling / 2));
  }

  /** Final state of the row and the user's event, in one transaction. */
  private async conclude(
    row: SmsOutboxEntity,
    status: 'delivered' | 'failed',
    at: Date,
    eventType: string,
    details: { provider: string; lastError?: string },
  ): Promise<void> {
    await this.tx.run(async (manager) => {
      // the user row before the outbox row, in the order SetPhone / ResendPhoneCode lock them (else they deadlock)
      const user = await this.users.findForUpdate(manager, row.userId);
      if (!(await this.outbox.finish(manager, row, status, at, details))) return; // the lease was lost
      if (!user) return;
      const payload =
        status === 'delivered'
          ? { provider: details.provider, attempts: row.attempts }
          : { provider: details.provider, attempts: row.attempts, reason: details.lastError };
      await this.events.append(manager, aggregateOf(user), [{ type: eventType, payload }], 'SYSTEM', at);
    });
  }
}
