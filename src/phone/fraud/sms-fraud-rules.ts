import { Bucket, DAY, FraudHistory, HISTORY_DAYS, hourOf, HOUR } from './sms-fraud-store';

/** The rules that can block a send, in the order they are judged (the first one hit is reported). */
export const FRAUD_RULES = [
  'prefix_hourly',
  'prefix_daily',
  'address',
  'address_countries',
  'country_hourly',
  'country_daily',
] as const;
export type FraudRule = (typeof FRAUD_RULES)[number];

export interface FraudThresholds {
  countryFloor: number;
  countryHourlyFloor: number;
  prefixFloor: number;
  prefixHourlyFloor: number;
  addressFloor: number;
  addressMaxCountries: number;
  /** the share of verified traffic that may go unverified (0.2) */
  ratio: number;
  /** hourly threshold ≥ daily threshold / this (6) */
  hourlyDivisor: number;
}

/** What the rules saw: the counts and thresholds of every rule (logged with each decision). */
export interface FraudMeasure {
  unverified: number;
  threshold: number;
}

export interface FraudVerdict {
  /** the rules the send would break, in FRAUD_RULES order; empty: it passes */
  hits: FraudRule[];
  measures: Record<FraudRule, FraudMeasure>;
}

interface Totals {
  sent: number;
  verified: number;
}

const sum = (buckets: Bucket[], since: number): Totals =>
  buckets
    .filter((b) => b.hour >= since)
    .reduce((t, b) => ({ sent: t.sent + b.sent, verified: t.verified + b.verified }), { sent: 0, verified: 0 });

const unverified = (t: Totals) => Math.max(0, t.sent - t.verified);

/** The most verifications of one UTC day among the last HISTORY_DAYS days (today included). */
function highestDailyVerified(buckets: Bucket[], now: number): number {
  const today = Math.floor(now / DAY);
  const byDay = new Map<number, number>();
  for (const b of buckets) {
    const day = Math.floor(b.hour / DAY);
    if (day <= today - HISTORY_DAYS || day > today) continue;
    byDay.set(day, (byDay.get(day) ?? 0) + b.verified);
  }
  return Math.max(0, ...byDay.values());
}

/** A destination's daily and hourly rule (the formulas: ADR 0017, docs/sms-providers.md "Pumping guard"). */
function destination(
  buckets: Bucket[],
  now: number,
  floor: number,
  hourlyFloor: number,
  t: FraudThresholds,
): { daily: FraudMeasure; hourly: FraudMeasure } {
  const current = hourOf(now);
  const day = sum(buckets, current - 23 * HOUR);
  const hour = sum(buckets, current);
  const dailyThreshold = Math.max(floor, t.ratio * highestDailyVerified(buckets, now), t.ratio * day.verified);
  const hourlyThreshold = Math.max(hourlyFloor, dailyThreshold / t.hourlyDivisor, t.ratio * hour.verified);
  return {
    daily: { unverified: unverified(day), threshold: dailyThreshold },
    hourly: { unverified: unverified(hour), threshold: hourlyThreshold },
  };
}

/**
 * Judges one send to `country` against the counters before it. Pure: the guard decides what a
 * hit means (block or only record).
 */
export function judge(history: FraudHistory, country: string, now: Date, t: FraudThresholds): FraudVerdict {
  const at = now.getTime();
  const since24h = hourOf(at) - 23 * HOUR;
  const prefix = destination(history.prefix, at, t.prefixFloor, t.prefixHourlyFloor, t);
  const byCountry = destination(history.country, at, t.countryFloor, t.countryHourlyFloor, t);
  const fromAddress = sum(history.address, since24h);

  // the countries this address sent to in 24 h without a single verification there (in 14 days), this one included
  const neverVerified = new Set<string>();
  for (const [where, buckets] of history.addressCountries) {
    const all = sum(buckets, 0);
    if (all.verified === 0 && sum(buckets, since24h).sent > 0) neverVerified.add(where);
  }
  const here = sum(history.addressCountries.get(country) ?? [], 0);
  const hereUnverified = here.verified === 0;
  if (hereUnverified) neverVerified.add(country);

  const measures: Record<FraudRule, FraudMeasure> = {
    prefix_hourly: prefix.hourly,
    prefix_daily: prefix.daily,
    address: {
      unverified: unverified(fromAddress),
      threshold: Math.max(t.addressFloor, t.ratio * fromAddress.verified),
    },
    address_countries: { unverified: hereUnverified ? neverVerified.size : 0, threshold: t.addressMaxCountries },
    country_hourly: byCountry.hourly,
    country_daily: byCountry.daily,
  };
  const hits = FRAUD_RULES.filter((rule) => measures[rule].unverified > measures[rule].threshold);
  return { hits, measures };
}
