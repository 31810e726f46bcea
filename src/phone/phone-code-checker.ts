import { Injectable } from '@nestjs/common';
import { inFlight, type Tx } from '../database/sql';
import { CodeSettings } from './phone-codes.settings';
import { AppError } from '../common/errors/app-error';
import { failed, Outcome, succeeded } from '../common/outcome';
import { UserEntity } from '../users/entities/user.entity';
import { canonicalCode } from './code-generator';
import { CodeMac } from './code-mac';
import { PhoneCodeEntity } from './phone-code.entity';
import { Claim, PhoneCodesRepository } from './phone-codes.repository';
import { PhoneErrors } from './phone.errors';
import { CheckAllowance, PhoneLimits } from './phone-limits';
import { SmsFraudGuard } from './fraud/sms-fraud-guard';
import type { VerifierAnswer } from './verify/delegated-verifier';

/** Why a check was refused, as the failure event records it. */
export type CheckReason =
  'no_code_pending' | 'consumed' | 'failed_checks_per_day' | 'expired' | 'attempts_exhausted' | 'wrong_code';

/**
 * A refused check: the error to answer and what the failure event records. `counts`: the check
 * changed something (an attempt used, a code killed, a failure counted towards the daily limit),
 * so it is counted and appends its event; without, it counts in the metrics only.
 */
export interface CheckRefusal {
  error: AppError;
  reason: CheckReason;
  payload?: Record<string, unknown>;
  counts: boolean;
}

/**
 * A check's result. Either way it carries the check's last writes, issued and in flight (the
 * consumption of a right code; an attempt handed back): the caller sends them with COMMIT.
 */
export type CheckOutcome = Outcome<{ writes: Promise<void> }, CheckRefusal & { writes: Promise<void> }>;

/** A check the service's own gates let through, for a judgement (`settle`). */
export interface Admitted {
  pending: PhoneCodeEntity;
  claim: Claim;
  allowance: CheckAllowance;
  /** the failure that a refusal would count locks the user out */
  lockout?: { lockedOut: boolean };
}

/** The statements a check issues before it has loaded anything: see `start`. */
export interface CheckInFlight {
  /** the daily failure limit's answer, asked for once a code is pending (see PhoneLimits.mayCheck) */
  allowed: () => Promise<Outcome<CheckAllowance, AppError>>;
  claim: Promise<Claim | undefined>;
}

/** A code submitted for a user, with what the use-case loaded for it. */
export interface CodeAttempt {
  user: UserEntity;
  pending: PhoneCodeEntity | null;
  input: string;
  now: Date;
  /** the check's statements, when the use-case issued them with the user's load (`start`) */
  started?: CheckInFlight;
}

/**
 * Compares a submitted code in the security bar's order: a pending code, the daily failure limit,
 * expiry, an attempt claimed, the constant-time comparison, one consumption (ADR 0015). `start`
 * issues its statements with the user's load (ADR 0009).
 */
@Injectable()
export class PhoneCodeChecker {
  constructor(
    private readonly config: CodeSettings,
    private readonly codes: PhoneCodesRepository,
    private readonly mac: CodeMac,
    private readonly limits: PhoneLimits,
    private readonly fraud: SmsFraudGuard,
  ) {}

  /** Issues the check's reads and its claim; call right after the user's load was issued. */
  start(tx: Tx, userId: string, now: Date): CheckInFlight {
    const allowed = this.limits.mayCheck(tx, userId, now);
    const claim = this.codes.claimAttempt(tx, userId, this.config.maxAttempts, now);
    // awaited by check(); should the load fail first, its failure is not left unhandled
    claim.catch(() => undefined);
    return { allowed, claim };
  }

  async check(tx: Tx, attempt: CodeAttempt): Promise<CheckOutcome> {
    const admitted = await this.admit(tx, attempt);
    if (!admitted.ok) return admitted;
    const { user, input, now } = attempt;
    const { pending } = admitted.value;
    try {
      const code = canonicalCode(input, this.config.alphabet);
      const matches = this.mac.matches(pending.mac, pending.keyId, user.id, user.phone!, code);
      return this.settle(tx, admitted.value, matches ? 'approved' : 'wrong', now);
    } catch (error) {
      // no check was made: nothing counts
      void admitted.value.allowance.giveBack();
      throw error;
    }
  }

  /**
   * The service's own gates before a code is judged: a pending code, the daily failure limit,
   * expiry, an attempt claimed. A refusal carries its writes; an admission, the claim and the
   * failure allowance for `settle` (in this transaction, or, when a provider judges the code, in
   * the one that records its answer: ADR 0030).
   */
  async admit(tx: Tx, attempt: CodeAttempt): Promise<Outcome<Admitted, CheckRefusal & { writes: Promise<void> }>> {
    const { user, pending, now, started = this.start(tx, user.id, now) } = attempt;
    // a refusal before the comparison counts no attempt: a claim made is handed back
    const release = async () => {
      const claim = await started.claim;
      if (claim) await this.codes.releaseAttempt(tx, claim.codeId);
    };
    const refuse = (refusal: CheckRefusal) => failed({ ...refusal, writes: inFlight(release()) });
    // nothing to guess at: counts for nothing (no failure, no event), whatever its repetition
    if (!user.phone || user.phoneVerified || !pending || pending.consumedAt || pending.phone !== user.phone) {
      return refuse({ error: PhoneErrors.noCodePending(), reason: 'no_code_pending', counts: false });
    }
    // the claim's answer first: a database that cannot answer throws before a failure is taken
    const claim = await started.claim;
    // a limit store that cannot answer throws here: the check is not made, nothing is committed
    const allowed = await started.allowed();
    if (!allowed.ok) return refuse({ error: allowed.error, reason: 'failed_checks_per_day', counts: false });
    const allowance = allowed.value;
    // a failure counted now reaches the daily limit: its event says the user is locked out
    const lockout = allowance.lastBeforeLockout ? { lockedOut: true } : undefined;
    // a refusal that counts: a failure towards the daily limit, with the claim's release if any
    const fail = (error: AppError, reason: CheckReason, payload?: Record<string, unknown>) =>
      failed({
        error,
        reason,
        payload,
        counts: true,
        writes: inFlight(release(), ...writes(allowance.countFailure())),
      });
    try {
      if (pending.expiresAt.getTime() <= now.getTime()) return fail(PhoneErrors.expired(), 'expired', lockout);
      if (claim === undefined) return fail(PhoneErrors.attemptsExhausted(), 'attempts_exhausted', lockout);
    } catch (error) {
      void allowance.giveBack();
      throw error;
    }
    return succeeded({ pending, claim, allowance, lockout });
  }

  /** An admitted check that was not judged (its provider gave no answer): its attempt and failure given back. */
  async withdraw(tx: Tx, admitted: Admitted): Promise<void> {
    void admitted.allowance.giveBack();
    await this.codes.releaseAttempt(tx, admitted.claim.codeId);
  }

  /**
   * The judgement of an admitted check, with its writes in `tx`: approved consumes the code once;
   * wrong, expired and too many attempts count a failure (too many attempts also kills the code).
   */
  settle(tx: Tx, admitted: Admitted, answer: VerifierAnswer, now: Date): CheckOutcome {
    const { pending, claim, allowance, lockout } = admitted;
    const fail = (error: AppError, reason: CheckReason, payload?: Record<string, unknown>, ...more: Promise<void>[]) =>
      failed({
        error,
        reason,
        payload,
        counts: true,
        writes: inFlight(...more, ...writes(allowance.countFailure(tx))),
      });
    const max = this.config.maxAttempts;
    switch (answer) {
      case 'approved': {
        // with the consumption, the pumping guard counts the verification where it counted the send;
        // a success is no failure: the one taken ahead is given back
        const consumed = this.codes.consume(tx, claim.codeId, now);
        const counted = this.fraud.verified(tx, pending, now);
        return succeeded({ writes: inFlight(consumed, ...writes(counted, allowance.giveBack())) });
      }
      case 'wrong': {
        const left = max - claim.attempts;
        const payload = { attemptsRemaining: left, codeDead: left === 0, ...lockout };
        return fail(PhoneErrors.wrongCode(left), 'wrong_code', payload);
      }
      case 'expired':
        return fail(PhoneErrors.expired(), 'expired', lockout);
      case 'exhausted':
        return fail(
          PhoneErrors.attemptsExhausted(),
          'attempts_exhausted',
          lockout,
          this.codes.exhaustAttempts(tx, claim.codeId, max),
        );
    }
  }
}

/** The writes that were issued (a step with nothing to write issues none). */
function writes(...issued: Array<Promise<unknown> | undefined>): Promise<unknown>[] {
  return issued.filter((write): write is Promise<unknown> => write !== undefined);
}
