import { Injectable } from '@nestjs/common';
import type { Tx } from '../database/sql';
import { AppConfig } from '../common/config/app-config.module';
import { AppError } from '../common/errors/app-error';
import { failed, Outcome, succeeded } from '../common/outcome';
import { UserEntity } from '../users/entities/user.entity';
import { canonicalCode } from './code-generator';
import { CodeMac } from './code-mac';
import { PhoneCodeEntity } from './phone-code.entity';
import { PhoneCodesRepository } from './phone-codes.repository';
import { PhoneErrors } from './phone.errors';
import { PhoneLimits } from './phone-limits';

/** Why a check was refused, as the failure event records it. */
export type CheckReason =
  'no_code_pending' | 'consumed' | 'failed_checks_per_day' | 'expired' | 'attempts_exhausted' | 'wrong_code';

/** A refused check: the error to answer and what the failure event records; `counts` = towards the daily limit. */
export interface CheckRefusal {
  error: AppError;
  reason: CheckReason;
  payload?: Record<string, unknown>;
  counts: boolean;
}

export type CheckOutcome = Outcome<void, CheckRefusal>;

/**
 * Compares a submitted code with the pending one (loaded with the user), in the order the security bar asks for: a
 * pending code, the user's daily failure limit, expiry, then one attempt counted atomically
 * BEFORE the constant-time comparison; a success consumes the code exactly once.
 */
@Injectable()
export class PhoneCodeChecker {
  constructor(
    private readonly config: AppConfig,
    private readonly codes: PhoneCodesRepository,
    private readonly mac: CodeMac,
    private readonly limits: PhoneLimits,
  ) {}

  async check(
    tx: Tx,
    user: UserEntity,
    pending: PhoneCodeEntity | null,
    input: string,
    now: Date,
  ): Promise<CheckOutcome> {
    const fail = (error: AppError, reason: CheckReason, payload?: Record<string, unknown>): CheckOutcome =>
      failed({ error, reason, payload, counts: true });
    if (!user.phone || user.phoneVerified || !pending || pending.consumedAt || pending.phone !== user.phone) {
      return fail(PhoneErrors.noCodePending(), 'no_code_pending');
    }
    // a limit store that cannot answer throws here: the check is not made, nothing is committed
    const allowed = await this.limits.mayCheck(tx, user.id, now);
    if (!allowed.ok) return failed({ error: allowed.error, reason: 'failed_checks_per_day', counts: false });
    if (pending.expiresAt.getTime() <= now.getTime()) return fail(PhoneErrors.expired(), 'expired');

    const max = this.config.PHONE_CODE_MAX_ATTEMPTS;
    const used = await this.codes.claimAttempt(tx, pending.id, max);
    if (used === undefined) return fail(PhoneErrors.attemptsExhausted(), 'attempts_exhausted');

    const code = canonicalCode(input, this.config.PHONE_CODE_ALPHABET);
    if (!this.mac.matches(pending.mac, pending.keyId, user.id, user.phone, code)) {
      const left = max - used;
      return fail(PhoneErrors.wrongCode(left), 'wrong_code', { attemptsRemaining: left, codeDead: left === 0 });
    }
    if (!(await this.codes.consume(tx, pending.id, now))) return fail(PhoneErrors.noCodePending(), 'consumed');
    return succeeded(undefined);
  }
}
