import { Injectable } from '@nestjs/common';
import { inFlight, type Tx } from '../database/sql';
import { NewEvent } from '../common/events/events.repository';
import { UserEntity } from '../users/entities/user.entity';
import { SmsCodeQueue } from './outbox/sms-code-queue';
import { PhoneCodeEntity } from './phone-code.entity';
import { PhoneCodeFactory } from './phone-code-factory';
import { PhoneCodesRepository } from './phone-codes.repository';
import { PhoneEvents } from './phone-events';
import { PhoneLimits } from './phone-limits';
import { ParsedPhone } from './phone-number';
import { TestNumbers } from './test-numbers';
import type { RequestOrigin } from '../common/throttle/client-address';
import type { Channel } from './sms/channels';
import { FraudAdmission, FraudBlock, SmsFraudGuard } from './fraud/sms-fraud-guard';
import { SmsSpendGuard } from './spend/sms-spend-guard';
import { PhoneErrors } from './phone.errors';
import { VerifierSettings } from './verify/verifier.settings';

export type Verification = { kind: 'send' } | { kind: 'return' } | { kind: 'verified' };

export interface Issued {
  /** the code, only for return_code */
  returned?: string;
  /** an SMS was queued: wake the outbox worker after commit */
  queued: boolean;
  /** the channel of the queued message's first step */
  channel?: Channel;
  /**
   * The code's writes (the code, the outbox message), issued and in flight: the caller awaits them
   * with its own last writes (on PostgreSQL they travel with COMMIT: see Closing).
   */
  writes: Promise<void>;
  /**
   * The pumping guard refused the send (SMS_FRAUD_MODE=enforce): nothing was written or counted;
   * the caller commits the block's event (not the others) and then answers its error.
   */
  blocked?: FraudBlock;
}

/** What a code is issued for. */
export interface IssueRequest {
  user: Pick<UserEntity, 'id' | 'orgId'>;
  phone: ParsedPhone;
  verification: Verification;
  /** the use-case's events: the issue appends its own */
  events: NewEvent[];
  now: Date;
  /** the code this one replaces, if the caller loaded it */
  previous?: PhoneCodeEntity | null;
  /** where the request came from: the pumping guard counts sends by client address */
  origin?: RequestOrigin;
  /** the channel the send hook named, for the first step (then the route's others); unset: the route's first */
  channel?: Channel;
}

/**
 * Starts a number's verification inside the caller's transaction: a new code (replacing any
 * pending one) that is returned or queued for SMS with the send limits applied, or the number
 * marked verified. Appends the matching events to `events`.
 */
@Injectable()
export class PhoneCodeIssuer {
  constructor(
    private readonly newCodes: PhoneCodeFactory,
    private readonly sms: SmsCodeQueue,
    private readonly codes: PhoneCodesRepository,
    private readonly limits: PhoneLimits,
    private readonly testNumbers: TestNumbers,
    private readonly guard: SmsFraudGuard,
    private readonly spend: SmsSpendGuard,
    private readonly verifier: VerifierSettings,
  ) {}

  async issue(tx: Tx, request: IssueRequest): Promise<Issued> {
    const { user, phone, verification, events, now, previous, origin } = request;
    if (verification.kind === 'verified') {
      events.push({ type: PhoneEvents.verified });
      return { queued: false, writes: inFlight(this.codes.removeForUser(tx, user.id)) };
    }
    // a number of SMS_TEST_NUMBERS: before any send limit or guard, none of which applies to it
    const fixed = this.testNumbers.codeFor(phone.e164);
    if (fixed !== undefined) return this.issueTestCode(tx, request, fixed);
    // a delegated verifier's code is drawn by the provider: none here to return (ADR 0030)
    if (verification.kind === 'return' && this.verifier.delegated) {
      throw PhoneErrors.codeHeldByProvider(this.verifier.verifier);
    }
    const judged: { admission?: FraudAdmission } = {};
    if (verification.kind === 'send') {
      // the one place the pumping guard is asked (a test number returned above, before it)
      const admit = async () => {
        judged.admission = await this.guard.admit(tx, phone, origin, now);
        // the spending caps after the guard: a send it refuses costs nothing
        const capped = judged.admission.blocked
          ? undefined
          : await this.spend.admit(tx, { orgId: user.orgId, country: phone.country, now });
        if (capped) judged.admission = { blocked: capped };
        return !judged.admission.blocked;
      };
      await this.limits.assertMaySend(tx, {
        userId: user.id,
        phone,
        now,
        lastSmsAt: previous?.smsQueuedAt ?? undefined,
        gate: admit,
      });
    }
    const admitted = judged.admission;
    if (admitted?.blocked) return { queued: false, writes: Promise.resolve(), blocked: admitted.blocked };
    const code = this.newCodes.draw();
    const row = this.newCodes.row({
      userId: user.id,
      phone,
      code,
      now,
      smsQueuedAt: verification.kind === 'send' ? now : null,
      sentFrom: admitted?.sentFrom ?? null,
      sentCountry: admitted?.country ?? null,
    });
    const { id: codeId, expiresAt } = row;
    const stored = this.codes.replace(tx, row);
    const returned = verification.kind === 'return';
    events.push({ type: PhoneEvents.codeAdded, payload: { expiry: expiresAt.toISOString(), codeReturned: returned } });
    if (returned) return { returned: code, queued: false, writes: inFlight(stored) };

    const { channel, queued } = this.sms.enqueue(tx, {
      user,
      recipient: phone.e164,
      code,
      codeId,
      expiresAt,
      now,
      correlationId: origin?.requestId,
      channel: request.channel,
    });
    const counted = admitted?.count?.();
    return { queued: true, channel, writes: counted ? inFlight(stored, queued, counted) : inFlight(stored, queued) };
  }

  /**
   * A test number's code: the fixed one, stored like any other (so VerifyPhone and its attempt
   * limits work unchanged), never queued; returned for return_code, as any code is. The use is
   * an event of its own.
   */
  private issueTestCode(tx: Tx, { user, phone, verification, events, now }: IssueRequest, code: string): Issued {
    const row = this.newCodes.row({
      userId: user.id,
      phone,
      code,
      now,
      smsQueuedAt: null,
      sentFrom: null,
      sentCountry: null,
    });
    const { expiresAt } = row;
    const stored = this.codes.replace(tx, row);
    const returned = verification.kind === 'return';
    events.push(
      { type: PhoneEvents.codeAdded, payload: { expiry: expiresAt.toISOString(), codeReturned: returned } },
      { type: PhoneEvents.codeTestNumber, payload: { delivery: returned ? 'return_code' : 'send_code' } },
    );
    return { returned: returned ? code : undefined, queued: false, writes: inFlight(stored) };
  }
}
