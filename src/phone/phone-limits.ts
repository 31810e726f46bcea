import { Injectable } from '@nestjs/common';
import { AppConfig } from '../common/config/app-config.module';
import { AppError } from '../common/errors/app-error';
import { LimitMetrics } from '../common/limits/limit.metrics';
import type { Tx } from '../database/sql';
import { LimitRule, LimitStore } from '../common/limits/limit-store';
import { failed, Outcome, succeeded } from '../common/outcome';
import { PhoneErrors } from './phone.errors';
import { ParsedPhone } from './phone-number';

const HOUR = 3_600_000;
const DAY = 86_400_000;
const NO_SMS_TYPES = new Set(['PREMIUM_RATE', 'SHARED_COST']);

/** The abuse limits of the security bar: who may be sent an SMS, how often, how many failed checks. */
@Injectable()
export class PhoneLimits {
  private readonly allowedCountries?: Set<string>;

  constructor(
    private readonly config: AppConfig,
    private readonly store: LimitStore,
    private readonly metrics: LimitMetrics,
  ) {
    if (config.SMS_ALLOWED_COUNTRIES) {
      this.allowedCountries = new Set(config.SMS_ALLOWED_COUNTRIES.split(',').map((c) => c.trim()));
    }
  }

  /**
   * Before an SMS is queued: the number may receive one, and no send limit is reached (then the
   * send counts), in the transaction that changes the user; the per-number key is shared between
   * users.
   * `lastSmsAt` (the pending code's, from the database) keeps the resend cooldown even when the
   * limit store lost its counters (a Redis restarted without persistence).
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
    if (gate && !(await gate())) return;
    const verdict = await this.store.take(rules, now, tx);
    if (!verdict.ok) {
      throw this.refused(verdict.rule.name, PhoneErrors.rateLimited(verdict.retryAfterMs, verdict.rule.name));
    }
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
