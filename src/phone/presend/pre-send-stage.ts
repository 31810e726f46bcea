import { Injectable } from '@nestjs/common';
import { assertAllowed } from '../../common/auth/access-policy';
import type { CallerRef } from '../../common/auth/caller-ref';
import type { RequestOrigin } from '../../common/throttle/client-address';
import { UsersRepository } from '../../users/users.repository';
import type { Verification } from '../phone-code-issuer';
import { ParsedPhone, PhoneNumberParser } from '../phone-number';
import { TestNumbers } from '../test-numbers';
import { PreSendChecks, PreSendVerdict } from './pre-send-checks';

/** A SetPhone (with its new number) or a ResendPhoneCode about to start its transaction. */
export interface PreSendRequest {
  ref: CallerRef;
  userId: string;
  verification: Verification;
  /** SetPhone's number; a resend goes to the user's */
  phone?: string;
  origin?: RequestOrigin;
}

const GO_ON: PreSendVerdict = {};

/**
 * Runs the pre-send checks before a SetPhone's or ResendPhoneCode's transaction, from the caller
 * and the user read on their own. Only a send that would happen is checked: anything the
 * transaction will refuse (another's user, a bad or unchanged number, nothing to resend) or that
 * sends nothing (return_code, is_verified, a test number) goes on unchecked, to be answered there.
 */
@Injectable()
export class PreSendStage {
  constructor(
    private readonly checks: PreSendChecks,
    private readonly users: UsersRepository,
    private readonly numbers: PhoneNumberParser,
    private readonly testNumbers: TestNumbers,
  ) {}

  async before({ ref, userId, verification, phone, origin }: PreSendRequest): Promise<PreSendVerdict> {
    if (verification.kind !== 'send' || !this.checks.enabled) return GO_ON;
    const [caller, user] = await Promise.all([ref.resolve(), this.users.findById(userId)]);
    if (!user || user.type !== 'human') return GO_ON;
    try {
      assertAllowed(caller, 'user.write', user, true);
    } catch {
      return GO_ON;
    }
    const parsed = this.destination(user, phone);
    if (!parsed || this.testNumbers.codeFor(parsed.e164) !== undefined) return GO_ON;
    return this.checks.judge({
      caller,
      user,
      phone: parsed,
      use: phone === undefined ? 'resend_code' : 'set_phone',
      origin,
    });
  }

  private destination(
    user: { phone: string | null; phoneVerified: boolean },
    phone: string | undefined,
  ): ParsedPhone | undefined {
    if (phone === undefined) return user.phone && !user.phoneVerified ? this.numbers.parse(user.phone) : undefined;
    try {
      const parsed = this.numbers.parse(phone);
      return parsed.e164 === user.phone ? undefined : parsed;
    } catch {
      return undefined;
    }
  }
}
