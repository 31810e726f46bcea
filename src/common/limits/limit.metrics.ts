import { Injectable } from '@nestjs/common';
import { Counter, Histogram } from 'prom-client';
import { Metrics } from '../metrics/metrics';

/**
 * The rules a request can be refused by: the rate limits, the per-client throttle, and the SMS
 * destination rules (premium-rate numbers, SMS_ALLOWED_COUNTRIES). A closed set, so the label
 * stays bounded whatever a rule's key holds.
 */
export const LIMIT_NAMES = [
  'sms_per_user_per_hour',
  'sms_per_number_per_day',
  'sms_number_ceiling_per_day',
  'sms_resend_cooldown',
  'sms_backoff',
  'failed_checks_per_day',
  'sms_number_type',
  'sms_country',
  'throttle',
] as const;

export type LimitName = (typeof LIMIT_NAMES)[number];

const KNOWN = new Set<string>(LIMIT_NAMES);

/** From one SMS_BACKOFF_BASE's default doubling up to a day: the waits SMS_BACKOFF_* can impose. */
const BACKOFF_BUCKETS = [30, 60, 120, 240, 480, 960, 1920, 3600, 7200, 14400, 28800, 86400];

/**
 * `pv_limit_refusals_total{limit}`: one per request answered with a limit's refusal.
 * `pv_sms_backoff_wait_seconds`: each wait the back-off imposed on a (number, account)'s next send.
 * `pv_sms_shared_number_sends_total`: SMS to a number another account was sent one within 24 h.
 */
@Injectable()
export class LimitMetrics {
  private readonly refusals: Counter<'limit'>;
  private readonly backoffWaits: Histogram;
  private readonly sharedNumberSends: Counter;

  constructor(metrics: Metrics) {
    this.refusals = new Counter({
      name: 'pv_limit_refusals_total',
      help: 'Requests refused by a limit, by rule',
      labelNames: ['limit'],
      registers: [metrics.registry],
    });
    // every rule shows from the start, at 0, so that rate() and absent() work before the first refusal
    for (const limit of LIMIT_NAMES) this.refusals.inc({ limit }, 0);
    this.backoffWaits = new Histogram({
      name: 'pv_sms_backoff_wait_seconds',
      help: 'Waits the per-number SMS back-off imposed on the next send to a number (SMS_BACKOFF_*)',
      buckets: BACKOFF_BUCKETS,
      registers: [metrics.registry],
    });
    this.sharedNumberSends = new Counter({
      name: 'pv_sms_shared_number_sends_total',
      help: 'SMS sent to a number that another account was sent an SMS within the last 24 h',
      registers: [metrics.registry],
    });
  }

  /** A send to a number several accounts were sent an SMS within the day (one's phone, set by others). */
  sharedNumberSend(): void {
    this.sharedNumberSends.inc();
  }

  /** A send that left its number waiting `waitMs` before the next one. */
  backoffImposed(waitMs: number): void {
    this.backoffWaits.observe(waitMs / 1000);
  }

  /** `limit` is a rule's name; one this table does not know counts as `other`. */
  refused(limit: string): void {
    this.refusals.inc({ limit: KNOWN.has(limit) ? limit : 'other' });
  }
}
