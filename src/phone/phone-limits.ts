import { Inject, Injectable, Optional } from '@nestjs/common';
import { LimitSettings } from './phone-limits.settings';
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
  /**
   * The check counts as a failure: a write for its closing writes (none where it was counted already),
   * in `tx` when it is not the transaction the check was allowed in (a delegated check's second one).
   */
  countFailure(tx?: Tx): Promise<void> | undefined;
  /** The check counts no failure: gives back the one counted ahead, if any (never rejects). */
  giveBack(): Promise<void> | undefined;
}

/** An SMS about to be queued for `userId`. */
export interface SmsSend {
  userId: string;
  phone: ParsedPhone;
  now: Date;
  /** when the code this one replaces was queued for SMS, if it was */
  lastSmsAt?: Date;
  /** judged after the refusals and before the store counts the send; false: stop, count nothing */
  gate?: () => Promise<boolean>;
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
    private readonly config: LimitSettings,
    private readonly store: LimitStore,
    private readonly metrics: LimitMetrics,
    private readonly backoff: BackoffStore,
    @Optional() @Inject(BACKOFF_RANDOM) private readonly random: () => number = Math.random,
  ) {
    if (config.allowedCountries) {
      this.allowedCountries = new Set(config.allowedCountries.split(',').map((c) => c.trim()));
    }
    this.numberCeiling = config.numberCeiling;
    if (config.backoffBaseMs > 0) {
      this.backoffPolicy = {
        freeSends: config.backoffFreeSends,
        baseMs: config.backoffBaseMs,
        maxMs: config.backoffMaxMs,
      };
    }
  }

  /**
   * Before an SMS is queued, in the transaction that changes `userId`: the number may receive one
   * and no send limit is reached, then the send counts. Budgets are per (number, account), the
   * ceiling the number's (ADR 0001). `lastSmsAt` keeps the cooldown when Redis lost its counters;
   * `gate` (the pumping guard) is asked before anything counts, so a blocked send counts nothing.
   */
  async assertMaySend(tx: Tx, { userId, phone, now, lastSmsAt, gate }: SmsSend): Promise<void> {
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
      limit: this.config.maxPerNumberPerDay,
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
        limit: this.config.maxPerUserPerHour,
        windowMs: HOUR,
        scope: 'user',
      },
      perNumber,
      ceiling,
    ];
    const cooldown = this.config.resendCooldownMs;
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

  /** Ends this account's back-off for the number (never another's, ADR 0001): a closing write. */
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
   * Before a code is compared: the daily failure limit, and whether a failure now locks the user
   * out. The database store reads behind the user's row lock and counts with the closing writes;
   * Redis, not ordered by that lock, takes the failure before the comparison and gives it back on
   * a match (ADR 0016). A store that cannot answer throws: the check fails closed.
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
        countFailure: (other?: Tx) => this.recordFailedCheck(other ?? tx, userId, now),
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

  /** Counted where refused: the refusal is the answer, whatever becomes of the transaction. */
  private refused(limit: string, error: AppError): AppError {
    this.metrics.refused(limit);
    return error;
  }

  /** Checked and counted only by VerifyPhone, in the transaction that changes the user. */
  private failures(userId: string): LimitRule {
    return {
      name: 'failed_checks_per_day',
      key: `verify:failed:${userId}`,
      limit: this.config.maxFailedPerDay,
      windowMs: DAY,
      scope: 'user',
    };
  }
}
