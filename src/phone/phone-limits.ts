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

/** A source of numbers in [0, 1) for the back-off's jitter (Math.random unless a test injects one). */
export const BACKOFF_RANDOM = Symbol('backoff-random');

/** The abuse limits of the security bar: who may be sent an SMS, how often, how many failed checks. */
@Injectable()
export class PhoneLimits {
  private readonly allowedCountries?: Set<string>;
  /** SMS_BACKOFF_*; unset with SMS_BACKOFF_BASE=0s */
  private readonly backoffPolicy?: BackoffPolicy;

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
   * send counts), in the transaction that changes the user; the per-number key is shared between
   * users.
   * `lastSmsAt` (the pending code's, from the database) keeps the resend cooldown even when the
   * limit store lost its counters (a Redis restarted without persistence).
   * The number's back-off (shared between users too) is checked before anything is counted, and
   * counts the send only once every limit let it through.
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
    const rules: LimitRule[] = [
      {
        name: 'sms_per_user_per_hour',
        key: `sms:user:${userId}`,
        limit: this.config.SMS_MAX_PER_USER_PER_HOUR,
        windowMs: HOUR,
        scope: 'user',
      },
      {
        name: 'sms_per_number_per_day',
        key: `sms:number:${phone.e164}`,
        limit: this.config.SMS_MAX_PER_NUMBER_PER_DAY,
        windowMs: DAY,
      },
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
    const backoffKey = `sms:backoff:${phone.e164}`;
    let sends = 0;
    if (this.backoffPolicy) {
      const waiting = await this.backoff.check(backoffKey, now, tx);
      if (!waiting.ok) throw this.refused('sms_backoff', PhoneErrors.rateLimited(waiting.retryAfterMs, 'sms_backoff'));
      sends = waiting.sends + 1;
    }
    if (gate && !(await gate())) return;
    const verdict = await this.store.take(rules, now, tx);
    if (!verdict.ok) {
      throw this.refused(verdict.rule.name, PhoneErrors.rateLimited(verdict.retryAfterMs, verdict.rule.name));
    }
    if (this.backoffPolicy) {
      const waitMs = backoffWaitMs(sends, this.backoffPolicy, this.random());
      await this.backoff.record(backoffKey, sends, waitMs, now, tx);
      if (waitMs > 0) this.metrics.backoffImposed(waitMs);
    }
  }

  /**
   * A verification of `e164` ends its back-off: a write for the closing writes of VerifyPhone's
   * transaction (issued with them, not awaited on its own). Nothing with the back-off off.
   */
  resetBackoff(tx: Tx, e164: string): Promise<void> | undefined {
    if (!this.backoffPolicy) return undefined;
    return this.backoff.reset(`sms:backoff:${e164}`, tx);
  }

  /**
   * Before a code is compared: the user's failed checks in the last 24 h are below the limit. The
   * refusal is returned; a store that cannot answer throws (and the check fails closed).
   */
  async mayCheck(tx: Tx, userId: string, now: Date): Promise<Outcome<void, AppError>> {
    const verdict = await this.store.check([this.failures(userId)], now, tx);
    if (verdict.ok) return succeeded(undefined);
    return failed(PhoneErrors.rateLimited(verdict.retryAfterMs, verdict.rule.name));
  }

  async recordFailedCheck(tx: Tx, userId: string, now: Date): Promise<void> {
    await this.store.record([this.failures(userId)], now, tx);
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
