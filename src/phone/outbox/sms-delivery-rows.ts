import { Injectable } from '@nestjs/common';
import { EventsRepository } from '../../common/events/events.repository';
import { Database, Tx } from '../../database/sql';
import { aggregateOf, UserEntity } from '../../users/entities/user.entity';
import { UsersRepository } from '../../users/users.repository';
import { PhoneCodesRepository } from '../phone-codes.repository';
import { SmsSpendGuard } from '../spend/sms-spend-guard';
import { channelOf } from '../channels/channel-routes';
import type { StepMove } from './channel-steps';
import { MIN_CODE_LIFE_MS } from './sms-retry-policy';
import { SmsOutboxEntity } from './sms-outbox.entity';
import { SmsOutboxRepository } from './sms-outbox.repository';

/** What a delivery's events carry besides their payload: the request's correlation id, the number. */
const contextOf = (row: SmsOutboxEntity) => ({ correlationId: row.correlationId ?? undefined, phone: row.recipient });

/** Whom a claimed message still goes to. */
export interface DeliveryTarget {
  user: UserEntity;
  expiresAt: Date;
}

/** How a delivery ended, as its row and the user's event record it. */
export interface Conclusion {
  status: 'delivered' | 'failed';
  at: Date;
  eventType: string;
  details: {
    provider: string;
    lastError?: string;
    providerMessageId?: string;
    keepSealed?: boolean;
    /** a delegated verifier's verification: recorded on the code it stands for */
    verificationId?: string;
    /** an accepted step with a next one: when it times out */
    stepDueAt?: Date | null;
  };
}

/** A claimed outbox row's transactions: whether it is still worth sending, a retry, its end. */
@Injectable()
export class SmsDeliveryRows {
  constructor(
    private readonly db: Database,
    private readonly outbox: SmsOutboxRepository,
    private readonly users: UsersRepository,
    private readonly codes: PhoneCodesRepository,
    private readonly events: EventsRepository,
    private readonly spend: SmsSpendGuard,
  ) {}

  /** The message's user and code expiry, or undefined once the row is skipped (its code no longer current). */
  target(row: SmsOutboxEntity, now: Date): Promise<DeliveryTarget | undefined> {
    return this.db.transaction(async (tx) => {
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
  }

  retryLater(row: SmsOutboxEntity, at: Date, reason: string): Promise<void> {
    return this.db.transaction((tx) => this.outbox.retryLater(tx, row, at, reason));
  }

  /** Final state of the row and the user's event, in one transaction; false when the lease was lost. */
  conclude(row: SmsOutboxEntity, { status, at, eventType, details }: Conclusion): Promise<boolean> {
    return this.db.transaction(async (tx) => {
      // the user row before the outbox row, in the order SetPhone / ResendPhoneCode lock them (else they deadlock)
      const user = await this.users.findForUpdate(tx, row.userId);
      if (!(await this.outbox.finish(tx, row, status, at, details))) return false; // the lease was lost
      // spent once a provider took it: a failover's or a retry's second provider is spent again
      const spend = status === 'delivered' ? await this.spend.accepted(tx, row, details.provider, at) : undefined;
      if (spend) await this.outbox.update(tx, row.id, spend);
      if (details.verificationId) await this.codes.recordVerification(tx, row.codeId, details.verificationId);
      if (!user) return true;
      const channel = channelOf(row);
      const payload =
        status === 'delivered'
          ? { provider: details.provider, attempts: row.attempts, channel }
          : { provider: details.provider, attempts: row.attempts, reason: details.lastError, channel };
      await this.events.append(tx, aggregateOf(user), [{ type: eventType, payload }], 'SYSTEM', at, contextOf(row));
      return true;
    });
  }

  /** A failed step given up, on to the next channel (its event with it); false when the lease was lost. */
  advance(row: SmsOutboxEntity, move: StepMove, at: Date): Promise<boolean> {
    return this.db.transaction(async (tx) => {
      const user = await this.users.findForUpdate(tx, row.userId);
      if (!(await this.outbox.nextStep(tx, row, move.fields))) return false;
      if (user) await this.events.append(tx, aggregateOf(user), [move.event], 'SYSTEM', at, contextOf(row));
      return true;
    });
  }

  /**
   * A timed-out step, locked (user first, as everywhere): `decide` says whether it moves on, is
   * over (its sealed code erased) or stays as it is. Resolves with the move made.
   */
  moveTimedOut(
    found: SmsOutboxEntity,
    now: Date,
    decide: (tx: Tx, row: SmsOutboxEntity, user: UserEntity | undefined) => Promise<StepMove | 'over' | 'unchanged'>,
  ): Promise<StepMove | undefined> {
    return this.db.transaction(async (tx) => {
      const user = await this.users.findForUpdate(tx, found.userId);
      const row = await this.outbox.findForUpdate(tx, found.id);
      if (!row) return undefined;
      const decision = await decide(tx, row, user);
      if (decision === 'unchanged') return undefined;
      if (decision === 'over') {
        await this.outbox.update(tx, row.id, { stepDueAt: null, sealedCode: null });
        return undefined;
      }
      await this.outbox.update(tx, row.id, decision.fields);
      if (user) await this.events.append(tx, aggregateOf(user), [decision.event], 'SYSTEM', now, contextOf(row));
      return decision;
    });
  }
}
