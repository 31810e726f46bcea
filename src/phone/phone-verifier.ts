import { Injectable } from '@nestjs/common';
import { assertAllowed } from '../common/auth/access-policy';
import type { CallerRef } from '../common/auth/caller-ref';
import { ChangeDetails, EventsRepository } from '../common/events/events.repository';
import { failed, Outcome, succeeded } from '../common/outcome';
import type { RequestOrigin } from '../common/throttle/client-address';
import { closing } from '../database/sql';
import { aggregateOf } from '../users/entities/user.entity';
import { UsersRepository } from '../users/users.repository';
import { CheckRefusal, PhoneCodeChecker } from './phone-code-checker';
import { PhoneEvents } from './phone-events';
import { PhoneLimits } from './phone-limits';
import { PhoneUseCaseContext } from './phone-use-case-context';
import { PhoneErrors } from './phone.errors';
import { PhoneMetrics } from './phone.metrics';

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
  ) {}

  /**
   * Checks a code. A refused check is committed (attempt and failure counted, event appended; see
   * CheckRefusal.counts) before its error is answered, which is why the transaction returns it as
   * an outcome instead of throwing it; anything thrown (a dependency that cannot answer) rolls the
   * whole check back.
   */
  async verifyPhone(ref: CallerRef, userId: string, input: string, origin?: RequestOrigin): Promise<ChangeDetails> {
    const outcome = await this.context.transaction(async (tx) => {
      const now = this.context.now();
      // the caller, the user's load and row lock, the check's reads and claim: issued together (ADR 0009)
      const loading = this.context.loadHuman(tx, ref, userId);
      const started = this.checker.start(tx, userId, now);
      const { caller, user, pending } = await loading;
      assertAllowed(caller, 'user.write', user, true, PhoneErrors.phoneNotFound);
      const checked = await this.checker.check(tx, { user, pending, input, now, started });
      const context = { correlationId: origin?.requestId, phone: user.phone };
      // the writes that end a check are independent of each other: issued together, they travel
      // with COMMIT on PostgreSQL
      if (checked.ok) {
        const writes = Promise.all([
          checked.value.writes,
          this.users.update(tx, user.id, { phoneVerified: true }),
          this.events.append(tx, aggregateOf(user), [{ type: PhoneEvents.verified }], caller.userId, now, context),
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
        this.events.append(tx, aggregateOf(user), [event], caller.userId, now, context),
      ]);
      return closing(writes.then(refused));
    });
    // committed: a check rolled back by a dependency that cannot answer is no outcome
    this.metrics.verification(outcome.ok ? 'ok' : outcome.error.reason);
    if (!outcome.ok) throw outcome.error.error;
    return outcome.value;
  }
}
