import { Inject, Injectable, Optional } from '@nestjs/common';
import { assertAllowed } from '../common/auth/access-policy';
import type { Caller } from '../common/auth/caller';
import type { CallerRef } from '../common/auth/caller-ref';
import { Errors } from '../common/errors/errors';
import { ChangeDetails, EventsRepository } from '../common/events/events.repository';
import { AppLogger } from '../common/logging/app-logger';
import { failed, Outcome, succeeded } from '../common/outcome';
import type { RequestOrigin } from '../common/throttle/client-address';
import { closing, Tx } from '../database/sql';
import { aggregateOf, UserEntity } from '../users/entities/user.entity';
import { UsersRepository } from '../users/users.repository';
import { Admitted, CheckOutcome, CheckRefusal, PhoneCodeChecker } from './phone-code-checker';
import { PhoneEvents } from './phone-events';
import { PhoneLimits } from './phone-limits';
import { PhoneUseCaseContext } from './phone-use-case-context';
import { PhoneErrors } from './phone.errors';
import { PhoneMetrics } from './phone.metrics';
import {
  DELEGATED_VERIFIER,
  DelegatedVerifier,
  VerifierAnswer,
  VerifierUnavailable,
} from './verify/delegated-verifier';

type Verified = Outcome<ChangeDetails, CheckRefusal>;

/** What a delegated check's first transaction ends with: an answer already, or a check for the provider. */
type FirstStep = { done: Verified } | { ask: Admitted & { verificationId: string } };

/** VerifyPhone: a code checked, and what its outcome writes. */
@Injectable()
export class PhoneVerifier {
  constructor(
    private readonly context: PhoneUseCaseContext,
    private readonly users: UsersRepository,
    private readonly events: EventsRepository,
    private readonly checker: PhoneCodeChecker,
    private readonly limits: PhoneLimits,
    private readonly metrics: PhoneMetrics,
    private readonly logger: AppLogger,
    @Optional() @Inject(DELEGATED_VERIFIER) private readonly delegated: DelegatedVerifier | null = null,
  ) {
    logger.setContext(PhoneVerifier.name);
  }

  /**
   * Checks a code. A refused check is committed (attempt and failure counted, event appended; see
   * CheckRefusal.counts) before its error is answered, which is why the transaction returns it as
   * an outcome instead of throwing it; anything thrown (a dependency that cannot answer) rolls the
   * whole check back.
   */
  async verifyPhone(ref: CallerRef, userId: string, input: string, origin?: RequestOrigin): Promise<ChangeDetails> {
    const outcome = this.delegated
      ? await this.verifyWithProvider(this.delegated, ref, userId, input, origin)
      : await this.context.transaction(async (tx) => {
          const now = this.context.now();
          // the caller, the user's load and row lock, the check's reads and claim: issued together (ADR 0009)
          const loading = this.context.loadHuman(tx, ref, userId);
          const started = this.checker.start(tx, userId, now);
          const { caller, user, pending } = await loading;
          assertAllowed(caller, 'user.write', user, true, PhoneErrors.phoneNotFound);
          const checked = await this.checker.check(tx, { user, pending, input, now, started });
          return closing(this.record(tx, caller, user, checked, now, origin));
        });
    // committed: a check rolled back by a dependency that cannot answer is no outcome
    this.metrics.verification(outcome.ok ? 'ok' : outcome.error.reason);
    if (!outcome.ok) throw outcome.error.error;
    return outcome.value;
  }

  /**
   * A check's writes, issued together so they travel with COMMIT on PostgreSQL: the number verified,
   * or the refusal's writes and, for a refusal that changed something (an attempt used, a code
   * killed, a failure counted), its event; one that changed nothing is counted in the metrics only,
   * so that repeating it cannot grow the events without bound.
   */
  private record(
    tx: Tx,
    caller: Caller,
    user: UserEntity,
    checked: CheckOutcome,
    now: Date,
    origin: RequestOrigin | undefined,
  ): Promise<Verified> {
    const context = { correlationId: origin?.requestId, phone: user.phone };
    if (checked.ok) {
      const writes = Promise.all([
        checked.value.writes,
        this.users.update(tx, user.id, { phoneVerified: true }),
        this.events.append(tx, aggregateOf(user), [{ type: PhoneEvents.verified }], caller.userId, now, context),
        this.limits.resetBackoff(tx, user.phone!, user.id),
      ]);
      return writes.then(([, , details]): Verified => succeeded(details));
    }
    const refusal = checked.error;
    const refused = (): Verified => failed(refusal);
    if (!refusal.counts) return refusal.writes.then(refused);
    const event = { type: PhoneEvents.verificationFailed, payload: { reason: refusal.reason, ...refusal.payload } };
    // the failure towards the daily limit is among the refusal's writes (see PhoneCodeChecker)
    const writes = Promise.all([
      refusal.writes,
      this.events.append(tx, aggregateOf(user), [event], caller.userId, now, context),
    ]);
    return writes.then(refused);
  }

  /**
   * PHONE_VERIFIER delegates the judgement (ADR 0030): the service's own gates and the attempt's
   * claim commit first; the provider is asked outside any transaction; a second transaction records
   * its answer. A provider that gives none answers 503 and gives the attempt back.
   */
  private async verifyWithProvider(
    verifier: DelegatedVerifier,
    ref: CallerRef,
    userId: string,
    input: string,
    origin?: RequestOrigin,
  ): Promise<Verified> {
    const first = await this.context.transaction(async (tx) => {
      const now = this.context.now();
      const loading = this.context.loadHuman(tx, ref, userId);
      const started = this.checker.start(tx, userId, now);
      const { caller, user, pending } = await loading;
      assertAllowed(caller, 'user.write', user, true, PhoneErrors.phoneNotFound);
      const done = (checked: CheckOutcome) =>
        closing(
          this.record(tx, caller, user, checked, now, origin).then((verified): FirstStep => ({ done: verified })),
        );
      // a code no provider was asked to send (a number of SMS_TEST_NUMBERS) is compared here
      if (pending && pending.smsQueuedAt === null) {
        return done(await this.checker.check(tx, { user, pending, input, now, started }));
      }
      const admitted = await this.checker.admit(tx, { user, pending, input, now, started });
      if (!admitted.ok) return done(admitted);
      // the provider has not started the verification yet: no code was sent that could match
      const verificationId = admitted.value.pending.verificationId;
      if (!verificationId) return done(this.checker.settle(tx, admitted.value, 'wrong', now));
      return { ask: { ...admitted.value, verificationId } } as FirstStep;
    });
    if ('done' in first) return first.done;

    const { ask } = first;
    let answer: VerifierAnswer | undefined;
    try {
      answer = await verifier.check(ask.pending.phone, ask.verificationId, input.trim());
    } catch (error) {
      if (!(error instanceof VerifierUnavailable)) throw error;
      this.logger.warn({ userId, reason: error.message }, 'verification provider gave no answer');
    }

    const second = await this.context.transaction(async (tx) => {
      const now = this.context.now();
      const { caller, user, pending } = await this.context.loadHuman(tx, ref, userId);
      assertAllowed(caller, 'user.write', user, true, PhoneErrors.phoneNotFound);
      const current =
        pending?.id === ask.claim.codeId && !pending.consumedAt && !user.phoneVerified && user.phone === pending.phone;
      if (!current) {
        // replaced or used meanwhile: the answer is about a code that is no longer pending
        void ask.allowance.giveBack();
        const none = PhoneErrors.noCodePending();
        return failed({ error: none, reason: 'no_code_pending', counts: false, writes: Promise.resolve() }) as Verified;
      }
      if (answer === undefined) return closing(this.checker.withdraw(tx, ask).then(() => undefined));
      return closing(this.record(tx, caller, user, this.checker.settle(tx, ask, answer, now), now, origin));
    });
    if (second === undefined) throw Errors.unavailable();
    return second;
  }
}
