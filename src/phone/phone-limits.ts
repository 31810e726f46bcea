import { Inject, Injectable, Optional } from '@nestjs/common';
import { AppConfig } from '../common/config/app-config.module';
import { AppError } from '../common/errors/app-error';
import { LimitMetrics } from '../common/limits/limit.metrics';
import type { Tx } from '../database/sql';
import { LimitRule, LimitStore } from '../common/limits/limit-store';
import { BackoffPolicy, BackoffStore, backoffWaitMs } from '../common/limits/backoff-store';
import { failed, Outcome, succeeded } from '../common/outcome';
import { PhoneErrors } from './phone.errors';
import { ParsedPhone } from './phone-number';

const HOUR = 3_600_000;
const DAY = 86_400_000;
const NO_SMS_TYPES = new Set(['PREMIUM_RATE', 'SHARED_COST']);
const numberKey = (e164: string) => `sms:number:${e164}`;

/** The back-off's key of one (number, account): what SmsBackoffAdmin clears by the number's prefix. */
export const backoffKey = (e164: string, userId: string): string => `${backoffKeyPrefix(e164)}${userId}`;
export const backoffKeyPrefix = (e164: string): string => `sms:backoff:${e164}:`;

/** A source of numbers in [0, 1) for the back-off's jitter (Math.random unless a test injects one). */
export const BACKOFF_RANDOM = Symbol('backoff-random');

/** A check the daily failure limit lets through: see PhoneLimits.mayCheck. */
export interface CheckAllowance {
  /** a failure counted for this check reaches the limit: the user is locked out */
  lastBeforeLockout: boolean;
  /** The check counts as a failure: a write for its closing writes (none where it was counted already). */
  countFailure(): Promise<void> | undefined;
  /** The check counts no failure: gives back the one counted ahead, if any (never rejects). */
  giveBack(): Promise<void> | undefined;
}

/** The abuse limits of the security bar: who may be sent an SMS, how often, how many failed checks. */
@Injectable()
export class PhoneLimits {
  private readonly allowedCountries?: Set<string>;
  /** SMS_BACKOFF_*; unset with SMS_BACKOFF_BASE=0s */
  private readonly backoffPolicy?: BackoffPolicy;
  /** SMS_NUMBER_CEILING_PER_DAY, by default 5 × SMS_MAX_PER_NUMBER_PER_DAY */
  private readonly numberCeiling: number;

  constructor(
    private readonly config: AppConfig,
    private readonly store: LimitStore,
    private readonly metrics: LimitMetrics,
    private readonly backoff: BackoffStore,
    @Optional() @Inject(BACKOFF_RANDOM) private readonly random: () => number = Math.random,
  ) {
    if (config.SMS_ALLOWED_COUNTRIES) {
      this.allowedCountries = new Set(config.SMS_ALLOWED_COUNTRIES.split(',').map((c) => c.trim()));
    }
    this.numberCeiling = config.SMS_NUMBER_CEILING_PER_DAY ?? 5 * config.SMS_MAX_PER_NUMBER_PER_DAY;
    if (config.SMS_BACKOFF_BASE > 0) {
      this.backoffPolicy = {
        freeSends: config.SMS_BACKOFF_FREE_SENDS,
        baseMs: config.SMS_BACKOFF_BASE,
        maxMs: config.SMS_BACKOFF_MAX,
      };
    }
  }

  /**
   * Before an SMS is queued: the number may receive one, and no send limit is reached (then the
   * send counts), in the transaction that changes the user (`userId`, the account whose phone it
   * is). The daily cap and the back-off count per (number, account), so that no account spends
   * another's budget for a number (issue 26); only the high daily ceiling is the number's, shared
   * by every account, against pumping.
   * `lastSmsAt` (the pending code's, from the database) keeps the resend cooldown even when the
   * limit store lost its counters (a Redis restarted without persistence).
   * The back-off is checked before anything is counted, and counts the send only once every
   * limit let it through.
   * `gate` (the pumping guard) is asked once the send could go out but before it is counted, so
   * that a send it blocks counts for nothing here either.
   */
  async assertMaySend(
    tx: Tx,
    userId: string,
    phone: ParsedPhone,
    now: Date,
    lastSmsAt?: Date,
    /** judged after the refusals above and before the store counts the send; false: stop, count nothing */
    gate?: () => Promise<boolean>,
  ): Promise<void> {
    if (phone.type && NO_SMS_TYPES.has(phone.type)) {
      throw this.refused(
        'sms_number_type',
        PhoneErrors.smsRefused('premium-rate and shared-cost numbers receive no SMS'),
      );
    }
    if (this.allowedCountries && !this.allowedCountries.has(phone.country ?? '')) {
      throw this.refused(
        'sms_country',
        PhoneErrors.smsRefused(`SMS are not sent to ${phone.country ?? 'this country'}`),
      );
    }
    const perNumber: LimitRule = {
      name: 'sms_per_number_per_day',
      key: `${numberKey(phone.e164)}:${userId}`,
      limit: this.config.SMS_MAX_PER_NUMBER_PER_DAY,
      windowMs: DAY,
      scope: 'user',
    };
    const ceiling: LimitRule = {
      name: 'sms_number_ceiling_per_day',
      key: numberKey(phone.e164),
      limit: this.numberCeiling,
      windowMs: DAY,
    };
    const rules: LimitRule[] = [
      {
        name: 'sms_per_user_per_hour',
        key: `sms:user:${userId}`,
        limit: this.config.SMS_MAX_PER_USER_PER_HOUR,
        windowMs: HOUR,
        scope: 'user',
      },
      perNumber,
      ceiling,
    ];
    const cooldown = this.config.SMS_RESEND_COOLDOWN;
    const cooling = lastSmsAt ? Math.min(cooldown, lastSmsAt.getTime() + cooldown - now.getTime()) : 0;
    // before the store counts this send: a refused one must count for nothing
    if (cooldown > 0 && cooling > 0) {
      throw this.refused('sms_resend_cooldown', PhoneErrors.rateLimited(cooling, 'sms_resend_cooldown'));
    }
    if (cooldown > 0) {
      rules.unshift({
        name: 'sms_resend_cooldown',
        key: `sms:cooldown:${userId}`,
        limit: 1,
        windowMs: cooldown,
        scope: 'user',
      });
    }
    // whether another account was sent an SMS to this number within the day (for a metric only):
    // read now, beside the first statements, and looked at once the send is counted
    const shared = this.sentByOthers(tx, perNumber, ceiling, now);
    shared.catch(() => undefined);
    const backoff = backoffKey(phone.e164, userId);
    let sends = 0;
    if (this.backoffPolicy) {
      const waiting = await this.backoff.check(backoff, now, tx);
      if (!waiting.ok) throw this.refused('sms_backoff', PhoneErrors.rateLimited(waiting.retryAfterMs, 'sms_backoff'));
      sends = waiting.sends + 1;
    }
    if (gate && !(await gate())) return;
    const verdict = await this.store.take(rules, now, tx);
    if (!verdict.ok) {
      throw this.refused(verdict.rule.name, PhoneErrors.rateLimited(verdict.retryAfterMs, verdict.rule.name));
    }
    if (this.backoffPolicy) await this.recordBackoff(tx, backoff, sends, now);
    if (await shared) this.metrics.sharedNumberSend();
  }

  /**
   * A verification of `e164` by `userId` ends that account's back-off for it (never another
   * account's): a write for the closing writes of VerifyPhone's transaction (issued with them, not
   * awaited on its own). Nothing with the back-off off.
   */
  resetBackoff(tx: Tx, e164: string, userId: string): Promise<void> | undefined {
    if (!this.backoffPolicy) return undefined;
    return this.backoff.reset(backoffKey(e164, userId), tx);
  }

  private async recordBackoff(tx: Tx, key: string, sends: number, now: Date): Promise<void> {
    const waitMs = backoffWaitMs(sends, this.backoffPolicy!, this.random());
    await this.backoff.record(key, sends, waitMs, now, tx);
    if (waitMs > 0) this.metrics.backoffImposed(waitMs);
  }

  /** The number's hits (all accounts) beyond this account's: another account was sent to it. */
  private async sentByOthers(tx: Tx, own: LimitRule, ceiling: LimitRule, now: Date): Promise<boolean> {
    const [mine, all] = await Promise.all([
      this.store.hitsWithin(own.key, own.windowMs, now, tx),
      this.store.hitsWithin(ceiling.key, ceiling.windowMs, now, tx),
    ]);
    return all > mine;
  }

  /**
   * Before a code is compared: the user's failed checks in the last 24 h are below the limit, and
   * whether this check, should it fail, reaches it (locks the user out: its event says so). Begun
   * with the check's first statements and answered when the checker asks, once a code is pending
   * and the caller is known to be allowed. The refusal is returned; a store that cannot answer
   * throws (and the check fails closed).
   * - Database: both reads are issued now, right behind the statement that loads and row-locks
   *   the user (no round trip of their own on PostgreSQL), which orders them after every earlier
   *   check of the user has committed; a failure is recorded with the closing writes.
   * - Redis (LimitStore.takeHit): nothing now. Redis is not ordered by the row lock, and a
   *   failure recorded with the closing writes lands as COMMIT does, so parallel checks that all
   *   read the count first would all pass the limit (issue 26, finding 9). When asked, the failure
   *   is taken at once, checked and counted atomically before the comparison, and given back if
   *   the check counts none (the code matched). Taken only then, it is never spent by a caller
   *   refused its token or the user, nor by a check with no code to compare.
   */
  mayCheck(tx: Tx, userId: string, now: Date): () => Promise<Outcome<CheckAllowance, AppError>> {
    const rule = this.failures(userId);
    if (this.store.takeHit) return () => this.takeFailure(rule, now, tx);
    const reads = Promise.all([
      this.store.check([rule], now, tx),
      this.store.hitsWithin(rule.key, rule.windowMs, now, tx),
    ]);
    // awaited when asked; a check that ends before (no code pending) leaves no failure unhandled
    reads.catch(() => undefined);
    return async () => {
      const [verdict, failures] = await reads;
      if (!verdict.ok) return failed(PhoneErrors.rateLimited(verdict.retryAfterMs, verdict.rule.name));
      return succeeded({
        lastBeforeLockout: failures + 1 >= rule.limit,
        countFailure: () => this.recordFailedCheck(tx, userId, now),
        giveBack: () => undefined,
      });
    };
  }

  /** Counts a failed check of `userId` without checking the limit. */
  async recordFailedCheck(tx: Tx, userId: string, now: Date): Promise<void> {
    await this.store.record([this.failures(userId)], now, tx);
  }

  private async takeFailure(rule: LimitRule, now: Date, tx: Tx): Promise<Outcome<CheckAllowance, AppError>> {
    const taken = await this.store.takeHit!(rule, now, tx);
    if (!taken.ok) return failed(PhoneErrors.rateLimited(taken.retryAfterMs, taken.rule.name));
    return succeeded({
      lastBeforeLockout: taken.hits >= rule.limit,
      countFailure: () => undefined,
      giveBack: () => taken.giveBack(),
    });
  }

  /**
   * A refused send is counted where it is refused: the refusal is the answer, whatever becomes of
   * the transaction it rolls back. (A refused check is counted by VerifyPhone once it committed.)
   */
  private refused(limit: string, error: AppError): AppError {
    this.metrics.refused(limit);
    return error;
  }

  /** Checked and counted only by VerifyPhone, in the transaction that changes the user. */
  private failures(userId: string): LimitRule {
    return {
      name: 'failed_checks_per_day',
      key: `verify:failed:${userId}`,
      limit: this.config.PHONE_MAX_FAILED_PER_DAY,
      windowMs: DAY,
      scope: 'user',
    };
  }
}
