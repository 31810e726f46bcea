import { Injectable } from '@nestjs/common';
import { inFlight, type Tx } from '../database/sql';
import { CodeSettings } from './phone-codes.settings';
import { SmsSettings } from './sms/sms.settings';
import { NewEvent } from '../common/events/events.repository';
import { IdGenerator } from '../common/ids/id-generator';
import { UserEntity } from '../users/entities/user.entity';
import { generateCode } from './code-generator';
import { CodeMac } from './code-mac';
import { OutboxCipher } from './outbox/outbox-cipher';
import { SmsOutboxRepository } from './outbox/sms-outbox.repository';
import { PhoneCodeEntity } from './phone-code.entity';
import { PhoneCodesRepository } from './phone-codes.repository';
import { PhoneEvents } from './phone-events';
import { PhoneLimits } from './phone-limits';
import { ParsedPhone } from './phone-number';
import { TestNumbers } from './test-numbers';
import type { RequestOrigin } from '../common/throttle/client-address';
import { FraudAdmission, FraudBlock, SmsFraudGuard } from './fraud/sms-fraud-guard';

export type Verification = { kind: 'send' } | { kind: 'return' } | { kind: 'verified' };

export interface Issued {
  /** the code, only for return_code */
  returned?: string;
  /** an SMS was queued: wake the outbox worker after commit */
  queued: boolean;
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

/**
 * Starts a number's verification inside the caller's transaction: a new code (replacing any
 * pending one) that is returned or queued for SMS with the send limits applied, or the number
 * marked verified. Appends the matching events to `events`.
 */
@Injectable()
export class PhoneCodeIssuer {
  constructor(
    private readonly config: CodeSettings,
    private readonly sms: SmsSettings,
    private readonly codes: PhoneCodesRepository,
    private readonly mac: CodeMac,
    private readonly ids: IdGenerator,
    private readonly outbox: SmsOutboxRepository,
    private readonly cipher: OutboxCipher,
    private readonly limits: PhoneLimits,
    private readonly testNumbers: TestNumbers,
    private readonly guard: SmsFraudGuard,
  ) {}

  async issue(
    tx: Tx,
    user: Pick<UserEntity, 'id' | 'orgId'>,
    phone: ParsedPhone,
    verification: Verification,
    events: NewEvent[],
    now: Date,
    /** the code this one replaces, if the caller loaded it */
    previous?: PhoneCodeEntity | null,
    /** where the request came from: the pumping guard counts sends by client address */
    origin?: RequestOrigin,
  ): Promise<Issued> {
    if (verification.kind === 'verified') {
      events.push({ type: PhoneEvents.verified });
      return { queued: false, writes: inFlight(this.codes.removeForUser(tx, user.id)) };
    }
    // a number of SMS_TEST_NUMBERS: before any send limit or guard, none of which applies to it
    const fixed = this.testNumbers.codeFor(phone.e164);
    if (fixed !== undefined) return this.issueTestCode(tx, user, phone, verification, events, now, fixed);
    const judged: { admission?: FraudAdmission } = {};
    if (verification.kind === 'send') {
      // the one place the pumping guard is asked (a test number returned above, before it)
      const admit = async () => {
        judged.admission = await this.guard.admit(tx, phone, origin, now);
        return !judged.admission.blocked;
      };
      await this.limits.assertMaySend(tx, user.id, phone, now, previous?.smsQueuedAt ?? undefined, admit);
    }
    const admitted = judged.admission;
    if (admitted?.blocked) return { queued: false, writes: Promise.resolve(), blocked: admitted.blocked };
    const code = generateCode(this.config.length, this.config.alphabet);
    const row = this.codeRow(user.id, phone, code, now, {
      smsQueuedAt: verification.kind === 'send' ? now : null,
      sentFrom: admitted?.sentFrom ?? null,
      sentCountry: admitted?.country ?? null,
    });
    const { id: codeId, expiresAt } = row;
    const stored = this.codes.replace(tx, row);
    const returned = verification.kind === 'return';
    events.push({ type: PhoneEvents.codeAdded, payload: { expiry: expiresAt.toISOString(), codeReturned: returned } });
    if (returned) return { returned: code, queued: false, writes: inFlight(stored) };

    const outboxId = this.ids.next();
    const queued = this.outbox.enqueue(tx, {
      id: outboxId,
      codeId,
      userId: user.id,
      orgId: user.orgId,
      recipient: phone.e164,
      sealedCode: this.cipher.seal(outboxId, code),
      status: 'pending',
      attempts: 0,
      nextAttemptAt: now,
      lockedUntil: null,
      createdAt: now,
      giveUpAt: new Date(Math.min(now.getTime() + this.sms.outbox.maxAgeMs, expiresAt.getTime())),
      lastError: null,
      provider: null,
      finishedAt: null,
    });
    const counted = admitted?.count?.();
    return { queued: true, writes: counted ? inFlight(stored, queued, counted) : inFlight(stored, queued) };
  }

  /**
   * A test number's code: the fixed one, stored like any other (so VerifyPhone and its attempt
   * limits work unchanged), never queued; returned for return_code, as any code is. The use is
   * an event of its own.
   */
  private issueTestCode(
    tx: Tx,
    user: Pick<UserEntity, 'id' | 'orgId'>,
    phone: ParsedPhone,
    verification: Verification,
    events: NewEvent[],
    now: Date,
    code: string,
  ): Issued {
    const row = this.codeRow(user.id, phone, code, now, { smsQueuedAt: null, sentFrom: null, sentCountry: null });
    const { expiresAt } = row;
    const stored = this.codes.replace(tx, row);
    const returned = verification.kind === 'return';
    events.push(
      { type: PhoneEvents.codeAdded, payload: { expiry: expiresAt.toISOString(), codeReturned: returned } },
      { type: PhoneEvents.codeTestNumber, payload: { delivery: returned ? 'return_code' : 'send_code' } },
    );
    return { returned: returned ? code : undefined, queued: false, writes: inFlight(stored) };
  }

  /** A new code's row: its MAC under the current key, its expiry, no attempt used. */
  private codeRow(
    userId: string,
    phone: ParsedPhone,
    code: string,
    now: Date,
    sending: Pick<PhoneCodeEntity, 'smsQueuedAt' | 'sentFrom' | 'sentCountry'>,
  ): PhoneCodeEntity {
    const keyId = this.mac.currentKeyId;
    return {
      id: this.ids.next(),
      userId,
      phone: phone.e164,
      mac: this.mac.sign(userId, phone.e164, code, keyId),
      keyId,
      createdAt: now,
      expiresAt: new Date(now.getTime() + this.config.ttlMs),
      attempts: 0,
      consumedAt: null,
      ...sending,
    };
  }
}
