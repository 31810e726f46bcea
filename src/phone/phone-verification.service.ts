import { Injectable } from '@nestjs/common';
import { assertAllowed } from '../common/auth/access-policy';
import { CallerRef } from '../common/auth/caller-ref';
import { Tx } from '../database/sql';
import { ChangeDetails, EventsRepository } from '../common/events/events.repository';
import { aggregateOf } from '../users/entities/user.entity';
import { UsersRepository } from '../users/users.repository';
import { NewUserPhone, NewUserPhoneRequest, PhoneChangeResult, PhoneChanges } from './phone-changes';
import { Verification } from './phone-code-issuer';
import { PhoneCodesRepository } from './phone-codes.repository';
import { IdempotentCall, IdempotentRequests } from './idempotency/idempotent-requests';
import { PhoneEvents } from './phone-events';
import { PhoneErrors } from './phone.errors';
import { PhoneUseCaseContext } from './phone-use-case-context';
import { PhoneVerifier } from './phone-verifier';
import type { RequestOrigin } from '../common/throttle/client-address';

export type { NewUserPhone, NewUserPhoneRequest, PhoneChangeResult, Verification };

/** Every phone use-case, once, for every transport: setting a number (PhoneChanges), checking it (PhoneVerifier), removing it. */
@Injectable()
export class PhoneVerificationService {
  constructor(
    private readonly changes: PhoneChanges,
    private readonly verifier: PhoneVerifier,
    private readonly context: PhoneUseCaseContext,
    private readonly users: UsersRepository,
    private readonly codes: PhoneCodesRepository,
    private readonly events: EventsRepository,
    private readonly idempotent: IdempotentRequests,
  ) {}

  setPhone(
    ref: CallerRef,
    userId: string,
    phone: string,
    verification: Verification,
    origin?: RequestOrigin,
  ): Promise<PhoneChangeResult> {
    const call: IdempotentCall = { ref, method: 'SetPhone', origin, request: { userId, phone, verification } };
    return this.idempotent.run(call, () => this.changes.setPhone(ref, userId, phone, verification, origin));
  }

  resendCode(
    ref: CallerRef,
    userId: string,
    verification: Verification,
    origin?: RequestOrigin,
  ): Promise<PhoneChangeResult> {
    const call: IdempotentCall = { ref, method: 'ResendPhoneCode', origin, request: { userId, verification } };
    return this.idempotent.run(call, () => this.changes.resendCode(ref, userId, verification, origin));
  }

  /** `work` once per Idempotency-Key (AddHumanUser, whose phone may be sent a code, goes through it too). */
  once<T>(call: IdempotentCall, work: () => Promise<T>): Promise<T> {
    return this.idempotent.run(call, work);
  }

  verifyPhone(ref: CallerRef, userId: string, input: string, origin?: RequestOrigin): Promise<ChangeDetails> {
    return this.verifier.verifyPhone(ref, userId, input, origin);
  }

  async removePhone(ref: CallerRef, userId: string, origin?: RequestOrigin): Promise<ChangeDetails> {
    return this.context.transaction(async (tx) => {
      const { caller, user } = await this.context.loadHuman(tx, ref, userId);
      assertAllowed(caller, 'user.write', user, true, PhoneErrors.phoneNotFound);
      if (!user.phone) throw PhoneErrors.noPhoneToRemove();
      await this.codes.removeForUser(tx, user.id);
      await this.users.update(tx, user.id, { phone: null, phoneVerified: false });
      const context = { correlationId: origin?.requestId, phone: user.phone };
      const removed = [{ type: PhoneEvents.removed }];
      return this.events.append(tx, aggregateOf(user), removed, caller.userId, this.context.now(), context);
    });
  }

  /** The phone part of AddHumanUser / CreateUser, inside the transaction that creates the user. */
  forNewUser(tx: Tx, request: NewUserPhoneRequest): Promise<NewUserPhone> {
    return this.changes.forNewUser(tx, request);
  }

  /** Deleting a user forgets its pending code. */
  async forgetUser(tx: Tx, userId: string): Promise<void> {
    await this.codes.removeForUser(tx, userId);
  }
}
