import type { EntityManager } from 'typeorm';

/** At most `limit` hits of `key` within any `windowMs` (a rolling window). */
export interface LimitRule {
  /** stable name, reported to clients (e.g. "sms_per_user_per_hour") */
  name: string;
  key: string;
  limit: number;
  windowMs: number;
  /**
   * The caller's transaction already serialises every use of this key (it holds the lock of the
   * one row the key belongs to, e.g. the user's): the database store then takes no lock of its own.
   */
  lockedByCaller?: boolean;
}

export type LimitVerdict = { ok: true } | { ok: false; rule: LimitRule; retryAfterMs: number };

/**
 * Where rate-limit counters live: the database by default, Redis when REDIS_URL is set, so that
 * every instance sees the same counts. `manager` is the caller's transaction (database store).
 */
export abstract class LimitStore {
  /** Checks every rule and, only when all allow, counts one hit for each, atomically. */
  abstract take(rules: LimitRule[], now: Date, manager?: EntityManager): Promise<LimitVerdict>;
  /** Checks without counting. */
  abstract check(rules: LimitRule[], now: Date, manager?: EntityManager): Promise<LimitVerdict>;
  /** Counts a hit for each rule without checking (e.g. a failed verification). */
  abstract record(rules: LimitRule[], now: Date, manager?: EntityManager): Promise<void>;
}
