import type { Channel } from './sms/channels';
import { Injectable } from '@nestjs/common';
import { assertAllowed } from '../common/auth/access-policy';
import { Caller } from '../common/auth/caller';
import type { CallerRef } from '../common/auth/caller-ref';
import { AppError } from '../common/errors/app-error';
import { Errors } from '../common/errors/errors';
import type { EventContext } from '../common/events/event-taps';
import { ChangeDetails, EventsRepository, NewEvent } from '../common/events/events.repository';
import { failed, Outcome, succeeded } from '../common/outcome';
import type { RequestOrigin } from '../common/throttle/client-address';
import { closing, Tx } from '../database/sql';
import { aggregateOf, UserEntity } from '../users/entities/user.entity';
import { UsersRepository } from '../users/users.repository';
import type { FraudBlock } from './fraud/sms-fraud-guard';
import { SmsOutboxWorker } from './outbox/sms-outbox.worker';
import { PhoneCodeIssuer, Verification } from './phone-code-issuer';
import { PhoneEvents } from './phone-events';
import { PhoneNumberParser } from './phone-number';
import { PhoneUseCaseContext } from './phone-use-case-context';
import { PhoneErrors } from './phone.errors';
import { PhoneMetrics } from './phone.metrics';
import { PreSendStage } from './presend/pre-send-stage';

/** What a committed SetPhone or ResendPhoneCode hands out of its transaction. */
interface IssueResult {
  result: PhoneChangeResult;
  queued: boolean;
  channel?: Channel;
}

export interface PhoneChangeResult {
  details: ChangeDetails;
  verificationCode?: string;
}

/** What a new human user's phone contributes to the transaction that creates the user. */
export interface NewUserPhone {
  phone: string | null;
  phoneVerified: boolean;
  events: NewEvent[];
  code?: string;
  afterCommit?: () => void;
}

/** A new user's phone, inside the transaction that creates `user`. */
export interface NewUserPhoneRequest {
  user: UserEntity;
  phone: string | undefined;
  verification: Verification;
  now: Date;
  origin?: RequestOrigin;
}

/** The use-cases that set a number and start its verification: SetPhone, ResendPhoneCode, a new user's phone. */
@Injectable()
export class PhoneChanges {
  constructor(
    private readonly context: PhoneUseCaseContext,
    private readonly users: UsersRepository,
    private readonly events: EventsRepository,
    private readonly numbers: PhoneNumberParser,
    private readonly issuer: PhoneCodeIssuer,
    private readonly outbox: SmsOutboxWorker,
    private readonly metrics: PhoneMetrics,
    private readonly presend: PreSendStage,
  ) {}

  async setPhone(
    ref: CallerRef,
    userId: string,
    phone: string,
    verification: Verification,
    origin?: RequestOrigin,
  ): Promise<PhoneChangeResult> {
    // the CAPTCHA and the risk hook call out: before the transaction (ADR 0025)
    const checked = await this.presend.before({ ref, userId, verification, phone, origin });
    const outcome = await this.context.transaction(async (tx) => {
      const { caller, user, pending } = await this.context.loadHuman(tx, ref, userId);
      this.assertMaySet(caller, user, verification);
      const parsed = this.numbers.parse(phone);
      if (user.phone === parsed.e164) throw PhoneErrors.notChanged();
      const now = this.context.now();
      const context = { correlationId: origin?.requestId, phone: parsed.e164 };
      if (checked.blocked) return this.blocked(tx, user, checked.blocked, caller, now, context);
      const events: NewEvent[] = [{ type: PhoneEvents.changed, payload: { phone: parsed.e164 } }];
      const issued = await this.issuer.issue(tx, {
        user,
        phone: parsed,
        verification,
        events,
        now,
        previous: pending,
        origin,
        channel: checked.channel,
      });
      if (issued.blocked) return this.blocked(tx, user, issued.blocked, caller, now, context);
      // the last writes, issued together, travel with COMMIT on PostgreSQL
      const writes = Promise.all([
        issued.writes,
        this.users.update(tx, user.id, { phone: parsed.e164, phoneVerified: verification.kind === 'verified' }),
        this.events.append(tx, aggregateOf(user), events, caller.userId, now, context),
      ]);
      return closing(
        writes.then(([, , details]): Outcome<IssueResult, AppError> =>
          succeeded({
            result: { details, verificationCode: issued.returned },
            queued: issued.queued,
            channel: issued.channel,
          }),
        ),
      );
    });
    return this.issuedOrThrow(outcome, verification);
  }

  async resendCode(
    ref: CallerRef,
    userId: string,
    verification: Verification,
    origin?: RequestOrigin,
  ): Promise<PhoneChangeResult> {
    const checked = await this.presend.before({ ref, userId, verification, origin });
    const outcome = await this.context.transaction(async (tx) => {
      const { caller, user, pending } = await this.context.loadHuman(tx, ref, userId);
      this.assertMaySet(caller, user, verification);
      if (!user.phone || user.phoneVerified || !pending || pending.consumedAt) throw PhoneErrors.codeEmpty();
      const now = this.context.now();
      const context = { correlationId: origin?.requestId, phone: user.phone };
      if (checked.blocked) return this.blocked(tx, user, checked.blocked, caller, now, context);
      const events: NewEvent[] = [];
      const phone = this.numbers.parse(user.phone);
      const { channel } = checked;
      const issued = await this.issuer.issue(tx, {
        user,
        phone,
        verification,
        events,
        now,
        previous: pending,
        origin,
        channel,
      });
      if (issued.blocked) return this.blocked(tx, user, issued.blocked, caller, now, context);
      const writes = Promise.all([
        issued.writes,
        this.events.append(tx, aggregateOf(user), events, caller.userId, now, context),
      ]);
      return closing(
        writes.then(([, details]): Outcome<IssueResult, AppError> =>
          succeeded({
            result: { details, verificationCode: issued.returned },
            queued: issued.queued,
            channel: issued.channel,
          }),
        ),
      );
    });
    return this.issuedOrThrow(outcome, verification);
  }

  async forNewUser(tx: Tx, { user, phone, verification, now, origin }: NewUserPhoneRequest): Promise<NewUserPhone> {
    if (!phone) return { phone: null, phoneVerified: false, events: [] };
    const parsed = this.numbers.parse(phone);
    const events: NewEvent[] = [{ type: PhoneEvents.changed, payload: { phone: parsed.e164 } }];
    const issued = await this.issuer.issue(tx, { user, phone: parsed, verification, events, now, origin });
    // no user to record the block on: the creation is refused as a whole (logged and counted by the guard)
    if (issued.blocked) throw issued.blocked.error;
    await issued.writes;
    return {
      phone: parsed.e164,
      phoneVerified: verification.kind === 'verified',
      events,
      code: issued.returned,
      afterCommit: () => {
        this.metrics.codeIssued(verification.kind, issued.queued, issued.channel);
        if (issued.queued) this.outbox.kick();
      },
    };
  }

  /**
   * A send the pumping guard or a pre-send check blocked: only its event is committed (nothing else was written),
   * then the error is answered (see issuedOrThrow).
   */
  private blocked(tx: Tx, user: UserEntity, block: FraudBlock, caller: Caller, now: Date, context: EventContext) {
    const appended = this.events.append(tx, aggregateOf(user), [block.event], caller.userId, now, context);
    return closing(appended.then((): Outcome<IssueResult, AppError> => failed(block.error)));
  }

  /** After the commit of a SetPhone or ResendPhoneCode. */
  private issuedOrThrow(outcome: Outcome<IssueResult, AppError>, verification: Verification): PhoneChangeResult {
    if (!outcome.ok) throw outcome.error;
    this.metrics.codeIssued(verification.kind, outcome.value.queued, outcome.value.channel);
    if (outcome.value.queued) this.outbox.kick();
    return outcome.value.result;
  }

  /**
   * send_code / default: self or user.write; return_code and is_verified: user.write, and never on
   * oneself. A user the caller may not read is a missing one to it (as every user method answers).
   */
  private assertMaySet(caller: Caller, user: UserEntity, verification: Verification): void {
    if (verification.kind === 'send') return assertAllowed(caller, 'user.write', user, true, PhoneErrors.phoneNotFound);
    // the code must reach the phone: a user may never have its own code returned or skip it
    if (caller.userId === user.id) throw Errors.permissionDenied();
    assertAllowed(caller, 'user.write', user, false, PhoneErrors.phoneNotFound);
  }
}
