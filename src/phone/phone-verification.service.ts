import { Injectable } from '@nestjs/common';
import { Clock } from '../common/clock';
import { PinoLogger } from 'nestjs-pino';
import { EntityManager, MoreThan } from 'typeorm';
import { Caller } from '../common/auth/caller';
import { AppConfig } from '../common/config/app-config.module';
import { TransactionRunner } from '../common/database/transaction-runner';
import { AppError } from '../common/errors/app-error';
import { EventEntity } from '../common/events/event.entity';
import { ChangeDetails, EventStore, NewEvent } from '../common/events/event-store';
import { IdGenerator } from '../common/ids/id-generator';
import { assertAllowed } from '../users/access-policy';
import { aggregateOf } from '../users/user-aggregate';
import { UserEntity } from '../users/entities/user.entity';
import { UsersRepository } from '../users/users.repository';
import { canonicalCode, generateCode } from './code-generator';
import { CodeMac } from './code-mac';
import { PhoneCodesRepository } from './phone-codes.repository';
import { PhoneErrors } from './phone.errors';
import { PhoneNumberParser } from './phone-number';
import { SmsSender } from './sms/sms-sender';
import { smsText } from './sms/sms-text';

export const PhoneEvents = {
  changed: 'user.human.phone.changed',
  codeAdded: 'user.human.phone.code.added',
  codeSent: 'user.human.phone.code.sent',
  verified: 'user.human.phone.verified',
  verificationFailed: 'user.human.phone.verification.failed',
  removed: 'user.human.phone.removed',
} as const;

export type Verification = { kind: 'send' } | { kind: 'return' } | { kind: 'verified' };

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
  afterCommit?: () => Promise<void>;
}

const DAY_MS = 86_400_000;

/** Every phone use-case, once, for every transport. */
@Injectable()
export class PhoneVerificationService {
  constructor(
    private readonly config: AppConfig,
    private readonly tx: TransactionRunner,
    private readonly users: UsersRepository,
    private readonly codes: PhoneCodesRepository,
    private readonly events: EventStore,
    private readonly ids: IdGenerator,
    private readonly mac: CodeMac,
    private readonly numbers: PhoneNumberParser,
    private readonly sms: SmsSender,
    private readonly logger: PinoLogger,
    private readonly clock: Clock,
  ) {
    logger.setContext(PhoneVerificationService.name);
  }

  async setPhone(
    caller: Caller,
    userId: string,
    phone: string,
    verification: Verification,
  ): Promise<PhoneChangeResult> {
    const { result, afterCommit } = await this.tx.run(async (manager) => {
      const user = await this.loadHuman(manager, userId);
      this.assertMaySet(caller, user, verification);
      const e164 = this.numbers.parse(phone).e164;
      if (user.phone === e164) throw PhoneErrors.notChanged();
      const now = this.clock.now();
      const events: NewEvent[] = [{ type: PhoneEvents.changed, payload: { phone: e164 } }];
      const issued = await this.issueOrVerify(manager, user, e164, verification, events, now);
      await this.users.update(manager, user.id, { phone: e164, phoneVerified: verification.kind === 'verified' });
      const details = await this.events.append(manager, aggregateOf(user), events, caller.userId, now);
      return { result: { details, verificationCode: issued.returned }, afterCommit: issued.afterCommit };
    });
    await afterCommit?.();
    return result;
  }

  async resendCode(caller: Caller, userId: string, verification: Verification): Promise<PhoneChangeResult> {
    const { result, afterCommit } = await this.tx.run(async (manager) => {
      const user = await this.loadHuman(manager, userId);
      this.assertMaySet(caller, user, verification);
      const pending = await this.codes.findByUser(manager, user.id);
      if (!user.phone || user.phoneVerified || !pending || pending.consumedAt) throw PhoneErrors.codeEmpty();
      const now = this.clock.now();
      const events: NewEvent[] = [];
      const issued = await this.issueOrVerify(manager, user, user.phone, verification, events, now);
      const details = await this.events.append(manager, aggregateOf(user), events, caller.userId, now);
      return { result: { details, verificationCode: issued.returned }, afterCommit: issued.afterCommit };
    });
    await afterCommit?.();
    return result;
  }

  /**
   * Checks a code. Failures are committed (attempt counted, event appended) before the error is
   * raised, which is why the transaction returns the error instead of throwing it.
   */
  async verifyPhone(caller: Caller, userId: string, input: string): Promise<ChangeDetails> {
    const outcome = await this.tx.run(async (manager): Promise<ChangeDetails | AppError> => {
      const user = await this.loadHuman(manager, userId);
      assertAllowed(caller, 'user.write', user, true);
      const now = this.clock.now();
      const fail = async (error: AppError, reason: string, extra: Record<string, unknown> = {}) => {
        await this.events.append(
          manager,
          aggregateOf(user),
          [{ type: PhoneEvents.verificationFailed, payload: { reason, ...extra } }],
          caller.userId,
          now,
        );
        return error;
      };

      const pending = await this.codes.findByUser(manager, user.id);
      if (!user.phone || user.phoneVerified || !pending || pending.consumedAt || pending.phone !== user.phone) {
        return fail(PhoneErrors.noCodePending(), 'no_code_pending');
      }
      const lockedOutFor = await this.dailyLockout(manager, user.id, now);
      if (lockedOutFor !== undefined) return PhoneErrors.rateLimited(lockedOutFor, 'failed_checks_per_day');
      if (pending.expiresAt.getTime() <= now.getTime()) return fail(PhoneErrors.expired(), 'expired');

      const max = this.config.PHONE_CODE_MAX_ATTEMPTS;
      const used = await this.codes.claimAttempt(manager, pending.id, max);
      if (used === undefined) return fail(PhoneErrors.attemptsExhausted(), 'attempts_exhausted');

      const code = canonicalCode(input, this.config.PHONE_CODE_ALPHABET);
      if (!this.mac.matches(pending.mac, pending.keyId, user.id, user.phone, code)) {
        const left = max - used;
        return fail(PhoneErrors.wrongCode(left), 'wrong_code', { attemptsRemaining: left, codeDead: left === 0 });
      }
      if (!(await this.codes.consume(manager, pending.id, now))) return fail(PhoneErrors.noCodePending(), 'consumed');
      await this.users.update(manager, user.id, { phoneVerified: true });
      return this.events.append(manager, aggregateOf(user), [{ type: PhoneEvents.verified }], caller.userId, now);
    });
    if (outcome instanceof AppError) throw outcome;
    return outcome;
  }

  async removePhone(caller: Caller, userId: string): Promise<ChangeDetails> {
    return this.tx.run(async (manager) => {
      const user = await this.loadHuman(manager, userId);
      assertAllowed(caller, 'user.write', user, true);
      if (!user.phone) throw PhoneErrors.noPhoneToRemove();
      await this.codes.removeForUser(manager, user.id);
      await this.users.update(manager, user.id, { phone: null, phoneVerified: false });
      return this.events.append(manager, aggregateOf(user), [{ type: PhoneEvents.removed }], caller.userId);
    });
  }

  /** The phone part of AddHumanUser / CreateUser, inside the transaction that creates `user`. */
  async forNewUser(
    manager: EntityManager,
    user: UserEntity,
    phone: string | undefined,
    verification: Verification,
    now: Date,
  ): Promise<NewUserPhone> {
    if (!phone) return { phone: null, phoneVerified: false, events: [] };
    const e164 = this.numbers.parse(phone).e164;
    const events: NewEvent[] = [{ type: PhoneEvents.changed, payload: { phone: e164 } }];
    const issued = await this.issueOrVerify(manager, user, e164, verification, events, now);
    return {
      phone: e164,
      phoneVerified: verification.kind === 'verified',
      events,
      code: issued.returned,
      afterCommit: issued.afterCommit,
    };
  }

  /** Deleting a user forgets its pending code. */
  async forgetUser(manager: EntityManager, userId: string): Promise<void> {
    await this.codes.removeForUser(manager, userId);
  }

  private async loadHuman(manager: EntityManager, userId: string): Promise<UserEntity> {
    const user = await this.users.findForUpdate(manager, userId);
    if (!user || user.type !== 'human') throw PhoneErrors.phoneNotFound();
    return user;
  }

  /** send_code / default: self or user.write; return_code and is_verified: user.write, even for self. */
  private assertMaySet(caller: Caller, user: UserEntity, verification: Verification): void {
    assertAllowed(caller, 'user.write', user, verification.kind === 'send');
  }

  /** Issues a new code (replacing any pending one) or marks the number verified; appends the events. */
  private async issueOrVerify(
    manager: EntityManager,
    user: Pick<UserEntity, 'id' | 'orgId'>,
    phone: string,
    verification: Verification,
    events: NewEvent[],
    now: Date,
  ): Promise<{ returned?: string; afterCommit?: () => Promise<void> }> {
    if (verification.kind === 'verified') {
      await this.codes.removeForUser(manager, user.id);
      events.push({ type: PhoneEvents.verified });
      return {};
    }
    const code = generateCode(this.config.PHONE_CODE_LENGTH, this.config.PHONE_CODE_ALPHABET);
    const expiresAt = new Date(now.getTime() + this.config.PHONE_CODE_TTL);
    const keyId = this.mac.currentKeyId;
    await this.codes.replace(manager, {
      id: this.ids.next(),
      userId: user.id,
      phone,
      mac: this.mac.sign(user.id, phone, code, keyId),
      keyId,
      createdAt: now,
      expiresAt,
      attempts: 0,
      consumedAt: null,
    });
    const returned = verification.kind === 'return';
    events.push({ type: PhoneEvents.codeAdded, payload: { expiry: expiresAt.toISOString(), codeReturned: returned } });
    if (returned) return { returned: code };
    return { afterCommit: () => this.deliver({ to: phone, code, userId: user.id, orgId: user.orgId }) };
  }

  /** After commit; a delivery problem is logged and never changes the API's answer. */
  private async deliver(message: { to: string; code: string; userId: string; orgId: string }): Promise<void> {
    try {
      await this.sms.send({ ...message, id: this.ids.next(), text: smsText({ code: message.code }) });
    } catch (error) {
      this.logger.error({ userId: message.userId, provider: this.sms.name, err: error }, 'SMS delivery failed');
    }
  }

  /** Milliseconds until the rolling 24 h window allows another check, or undefined when not locked out. */
  private async dailyLockout(manager: EntityManager, userId: string, now: Date): Promise<number | undefined> {
    const max = this.config.PHONE_MAX_FAILED_PER_DAY;
    const failures = await manager.find(EventEntity, {
      where: {
        aggregateId: userId,
        type: PhoneEvents.verificationFailed,
        createdAt: MoreThan(new Date(now.getTime() - DAY_MS)),
      },
      order: { createdAt: 'DESC' },
      take: max,
      select: { createdAt: true, id: true },
    });
    if (failures.length < max) return undefined;
    return Math.max(1000, failures[max - 1].createdAt.getTime() + DAY_MS - now.getTime());
  }
}
