import { Injectable } from '@nestjs/common';
import { assertAllowed } from '../common/auth/access-policy';
import { Caller } from '../common/auth/caller';
import { CallerRef } from '../common/auth/caller-ref';
import { Clock } from '../common/clock';
import { closing, Database, Tx } from '../database/sql';
import { Errors } from '../common/errors/errors';
import { ChangeDetails, EventsRepository, NewEvent } from '../common/events/events.repository';
import { failed, Outcome, succeeded } from '../common/outcome';
import { aggregateOf, UserEntity } from '../users/entities/user.entity';
import { UsersRepository } from '../users/users.repository';
import { SmsOutboxWorker } from './outbox/sms-outbox.worker';
import { CheckRefusal, PhoneCodeChecker } from './phone-code-checker';
import { PhoneCodeIssuer, Verification } from './phone-code-issuer';
import { PhoneCodesRepository } from './phone-codes.repository';
import { PhoneEvents } from './phone-events';
import { PhoneLimits } from './phone-limits';
import { PhoneErrors } from './phone.errors';
import { PhoneMetrics } from './phone.metrics';
import { PhoneNumberParser } from './phone-number';
import { AppError } from '../common/errors/app-error';
import type { RequestOrigin } from '../common/throttle/client-address';
import type { FraudBlock } from './fraud/sms-fraud-guard';

export type { Verification };

/** What a committed SetPhone or ResendPhoneCode hands out of its transaction. */
interface IssueResult {
  result: PhoneChangeResult;
  queued: boolean;
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

/** Every phone use-case, once, for every transport. */
@Injectable()
export class PhoneVerificationService {
  constructor(
    private readonly db: Database,
    private readonly users: UsersRepository,
    private readonly codes: PhoneCodesRepository,
    private readonly events: EventsRepository,
    private readonly numbers: PhoneNumberParser,
    private readonly issuer: PhoneCodeIssuer,
    private readonly checker: PhoneCodeChecker,
    private readonly limits: PhoneLimits,
    private readonly outbox: SmsOutboxWorker,
    private readonly clock: Clock,
    private readonly metrics: PhoneMetrics,
  ) {}

  async setPhone(
    ref: CallerRef,
    userId: string,
    phone: string,
    verification: Verification,
    origin?: RequestOrigin,
  ): Promise<PhoneChangeResult> {
    const outcome = await this.db.transaction(async (tx) => {
      const { caller, user, pending } = await this.loadHuman(tx, ref, userId);
      this.assertMaySet(caller, user, verification);
      const parsed = this.numbers.parse(phone);
      if (user.phone === parsed.e164) throw PhoneErrors.notChanged();
      const now = this.clock.now();
      const events: NewEvent[] = [{ type: PhoneEvents.changed, payload: { phone: parsed.e164 } }];
      const issued = await this.issuer.issue(tx, user, parsed, verification, events, now, pending, origin);
      if (issued.blocked) return this.blocked(tx, user, issued.blocked, caller, now);
      // the last writes, issued together, travel with COMMIT on PostgreSQL
      const writes = Promise.all([
        issued.writes,
        this.users.update(tx, user.id, { phone: parsed.e164, phoneVerified: verification.kind === 'verified' }),
        this.events.append(tx, aggregateOf(user), events, caller.userId, now),
      ]);
      return closing(
        writes.then(([, , details]): Outcome<IssueResult, AppError> =>
          succeeded({ result: { details, verificationCode: issued.returned }, queued: issued.queued }),
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
    const outcome = await this.db.transaction(async (tx) => {
      const { caller, user, pending } = await this.loadHuman(tx, ref, userId);
      this.assertMaySet(caller, user, verification);
      if (!user.phone || user.phoneVerified || !pending || pending.consumedAt) throw PhoneErrors.codeEmpty();
      const now = this.clock.now();
      const events: NewEvent[] = [];
      const phone = this.numbers.parse(user.phone);
      const issued = await this.issuer.issue(tx, user, phone, verification, events, now, pending, origin);
      if (issued.blocked) return this.blocked(tx, user, issued.blocked, caller, now);
      const writes = Promise.all([
        issued.writes,
        this.events.append(tx, aggregateOf(user), events, caller.userId, now),
      ]);
      return closing(
        writes.then(([, details]): Outcome<IssueResult, AppError> =>
          succeeded({ result: { details, verificationCode: issued.returned }, queued: issued.queued }),
        ),
      );
    });
    return this.issuedOrThrow(outcome, verification);
  }

  /**
   * Checks a code. A refused check is committed (attempt and failure counted, event appended; see
   * CheckRefusal.counts) before its error is answered, which is why the transaction returns it as
   * an outcome instead of throwing it; anything thrown (a dependency that cannot answer) rolls the
   * whole check back.
   */
  async verifyPhone(ref: CallerRef, userId: string, input: string): Promise<ChangeDetails> {
    const outcome = await this.db.transaction(async (tx) => {
      const now = this.clock.now();
      // the caller's token, the user's load and row lock, then the check's reads and its claim,
      // issued together: one round trip on PostgreSQL, run in this order (see PhoneCodeChecker)
      const loading = this.loadHuman(tx, ref, userId);
      const started = this.checker.start(tx, userId, now);
      const { caller, user, pending } = await loading;
      assertAllowed(caller, 'user.write', user, true, PhoneErrors.phoneNotFound);
      const checked = await this.checker.check(tx, user, pending, input, now, started);
      // the writes that end a check are independent of each other: issued together, they travel
      // with COMMIT on PostgreSQL
      if (checked.ok) {
        const writes = Promise.all([
          checked.value.writes,
          this.users.update(tx, user.id, { phoneVerified: true }),
          this.events.append(tx, aggregateOf(user), [{ type: PhoneEvents.verified }], caller.userId, now),
          this.limits.resetBackoff(tx, user.phone!, user.id),
        ]);
        return closing(writes.then(([, , details]): Outcome<ChangeDetails, CheckRefusal> => succeeded(details)));
      }
      const refusal = checked.error;
      // an event only for a check that changed something (an attempt used, a code killed, a failure
      // counted); a refusal that changes nothing (no code pending, the daily limit already reached)
      // is counted in the metrics only, so that repeating it cannot grow the events without bound
      const refused = (): Outcome<ChangeDetails, CheckRefusal> => failed(refusal);
      if (!refusal.counts) return closing(refusal.writes.then(refused));
      const event = { type: PhoneEvents.verificationFailed, payload: { reason: refusal.reason, ...refusal.payload } };
      // the failure towards the daily limit is among the refusal's writes (see PhoneCodeChecker)
      const writes = Promise.all([
        refusal.writes,
        this.events.append(tx, aggregateOf(user), [event], caller.userId, now),
      ]);
      return closing(writes.then(refused));
    });
    // committed: a check rolled back by a dependency that cannot answer is no outcome
    this.metrics.verification(outcome.ok ? 'ok' : outcome.error.reason);
    if (!outcome.ok) throw outcome.error.error;
    return outcome.value;
  }

  async removePhone(ref: CallerRef, userId: string): Promise<ChangeDetails> {
    return this.db.transaction(async (tx) => {
      const { caller, user } = await this.loadHuman(tx, ref, userId);
      assertAllowed(caller, 'user.write', user, true, PhoneErrors.phoneNotFound);
      if (!user.phone) throw PhoneErrors.noPhoneToRemove();
      await this.codes.removeForUser(tx, user.id);
      await this.users.update(tx, user.id, { phone: null, phoneVerified: false });
      return this.events.append(tx, aggregateOf(user), [{ type: PhoneEvents.removed }], caller.userId);
    });
  }

  /** The phone part of AddHumanUser / CreateUser, inside the transaction that creates `user`. */
  async forNewUser(
    tx: Tx,
    user: UserEntity,
    phone: string | undefined,
    verification: Verification,
    now: Date,
    origin?: RequestOrigin,
  ): Promise<NewUserPhone> {
    if (!phone) return { phone: null, phoneVerified: false, events: [] };
    const parsed = this.numbers.parse(phone);
    const events: NewEvent[] = [{ type: PhoneEvents.changed, payload: { phone: parsed.e164 } }];
    const issued = await this.issuer.issue(tx, user, parsed, verification, events, now, undefined, origin);
    // no user to record the block on: the creation is refused as a whole (logged and counted by the guard)
    if (issued.blocked) throw issued.blocked.error;
    await issued.writes;
    return {
      phone: parsed.e164,
      phoneVerified: verification.kind === 'verified',
      events,
      code: issued.returned,
      afterCommit: () => {
        this.metrics.codeIssued(verification.kind, issued.queued);
        if (issued.queued) this.outbox.kick();
      },
    };
  }

  /** Deleting a user forgets its pending code. */
  async forgetUser(tx: Tx, userId: string): Promise<void> {
    await this.codes.removeForUser(tx, userId);
  }

  /**
   * A send the pumping guard blocked: only its event is committed (nothing else was written),
   * then the error is answered (see issuedOrThrow).
   */
  private blocked(tx: Tx, user: UserEntity, block: FraudBlock, caller: Caller, now: Date) {
    const appended = this.events.append(tx, aggregateOf(user), [block.event], caller.userId, now);
    return closing(appended.then((): Outcome<IssueResult, AppError> => failed(block.error)));
  }

  /** After the commit of a SetPhone or ResendPhoneCode. */
  private issuedOrThrow(outcome: Outcome<IssueResult, AppError>, verification: Verification): PhoneChangeResult {
    if (!outcome.ok) throw outcome.error;
    this.metrics.codeIssued(verification.kind, outcome.value.queued);
    if (outcome.value.queued) this.outbox.kick();
    return outcome.value.result;
  }

  /**
   * The caller, then the human user (row-locked on PostgreSQL) and its pending code in one
   * statement: issued together, answered in that order, so an unknown token is refused first.
   */
  private async loadHuman(tx: Tx, ref: CallerRef, userId: string) {
    const [caller, { user, pending }] = await Promise.all([ref.within(tx), this.codes.findUserAndCode(tx, userId)]);
    if (!user || user.type !== 'human') throw PhoneErrors.phoneNotFound();
    return { caller, user, pending };
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
