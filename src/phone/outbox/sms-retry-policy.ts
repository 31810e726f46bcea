import { Injectable } from '@nestjs/common';
import type { Tx } from '../../database/sql';
import { UserEntity } from '../../users/entities/user.entity';
import { PhoneCodesRepository } from '../phone-codes.repository';
import { providerChainOf } from '../sms/routing-sms-sender';
import { SmsSettings } from '../sms/sms.settings';
import { SmsOutboxEntity } from './sms-outbox.entity';
import { ChannelSteps, StepMove } from './channel-steps';
import type { FallbackReason } from '../phone.metrics';

/** A code this close to its end is not sent any more: the text would arrive dead. */
export const MIN_CODE_LIFE_MS = 1_000;

/** Whether a message not delivered may still go out through another provider, or the workflow's next channel. */
@Injectable()
export class SmsRetryPolicy {
  constructor(
    private readonly config: SmsSettings,
    private readonly codes: PhoneCodesRepository,
    private readonly steps: ChannelSteps,
  ) {}

  /** The move to the workflow's next channel (ADR 0028), or undefined at its last step. */
  nextStep(row: SmsOutboxEntity, reason: FallbackReason, now: Date, lastError: string): StepMove | undefined {
    return this.steps.move(row, reason, now, lastError);
  }

  /** After a move's commit: counted and logged. */
  moved(row: SmsOutboxEntity, move: StepMove): void {
    this.steps.moved(row, move);
  }

  /** Whether a message accepted by `provider` may still need another provider (so keeps its sealed code). */
  mayRetryAfter(provider: string, failedBefore: readonly string[], recipient: string): boolean {
    // the providers of the recipient's route (SMS_ROUTES), or SMS_PROVIDER's
    return providerChainOf(this.config, recipient).some(
      (name) => name !== provider && name !== 'none' && !failedBefore.includes(name),
    );
  }

  /** Whether the message's code is still the user's, unused and alive, for the number it was sent to. */
  async stillCurrent(tx: Tx, row: SmsOutboxEntity, user: UserEntity | undefined, now: Date): Promise<boolean> {
    const code = await this.codes.findByUser(tx, row.userId);
    return (
      code !== null &&
      code.id === row.codeId &&
      !code.consumedAt &&
      code.expiresAt.getTime() - now.getTime() >= MIN_CODE_LIFE_MS &&
      row.giveUpAt > now &&
      user?.phone === row.recipient &&
      row.sealedCode !== null
    );
  }
}
