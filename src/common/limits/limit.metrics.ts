import { Injectable } from '@nestjs/common';
import { Counter } from 'prom-client';
import { Metrics } from '../metrics/metrics';

/**
 * The rules a request can be refused by: the rate limits, the per-client throttle, and the SMS
 * destination rules (premium-rate numbers, SMS_ALLOWED_COUNTRIES). A closed set, so the label
 * stays bounded whatever a rule's key holds.
 */
export const LIMIT_NAMES = [
  'sms_per_user_per_hour',
  'sms_per_number_per_day',
  'sms_resend_cooldown',
  'failed_checks_per_day',
  'sms_number_type',
  'sms_country',
  'throttle',
] as const;

export type LimitName = (typeof LIMIT_NAMES)[number];

const KNOWN = new Set<string>(LIMIT_NAMES);

/** `pv_limit_refusals_total{limit}`: one per request answered with a limit's refusal. */
@Injectable()
export class LimitMetrics {
  private readonly refusals: Counter<'limit'>;

  constructor(metrics: Metrics) {
    this.refusals = new Counter({
      name: 'pv_limit_refusals_total',
      help: 'Requests refused by a limit, by rule',
      labelNames: ['limit'],
      registers: [metrics.registry],
    });
    // every rule shows from the start, at 0, so that rate() and absent() work before the first refusal
    for (const limit of LIMIT_NAMES) this.refusals.inc({ limit }, 0);
  }

  /** `limit` is a rule's name; one this table does not know counts as `other`. */
  refused(limit: string): void {
    this.refusals.inc({ limit: KNOWN.has(limit) ? limit : 'other' });
  }
}
