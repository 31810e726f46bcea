import type { Tx } from '../../database/sql';

/** At most `limit` hits of `key` within any `windowMs` (a rolling window). */
export interface LimitRule {
  /** stable name, reported to clients (e.g. "sms_per_user_per_hour") */
  name: string;
  key: string;
  limit: number;
  windowMs: number;
  /**
   * `user`: the key counts one user's actions (e.g. its sends or failed checks), and is used only
   * in transactions that change that user. Without: the key is shared (e.g. a phone number's).
   */
  scope?: 'user';
}

export type LimitVerdict = { ok: true } | { ok: false; rule: LimitRule; retryAfterMs: number };

/** A hit counted ahead of the act it counts (see LimitStore.takeHit), or the rule's refusal. */
export type TakenHit =
  | {
      ok: true;
      /** the key's hits within the window, this one included */
      hits: number;
      /** Removes this hit: the act did not count. Never rejects (a hit left counts one too many, never one too few). */
      giveBack(): Promise<void>;
    }
  | { ok: false; rule: LimitRule; retryAfterMs: number };

/** Where rate-limit counters live: the database, or Redis with REDIS_URL (ADR 0016). `tx`: the database store's. */
export abstract class LimitStore {
  /** Checks every rule and, only when all allow, counts one hit for each, atomically. */
  abstract take(rules: LimitRule[], now: Date, tx?: Tx): Promise<LimitVerdict>;
  /** Checks without counting. */
  abstract check(rules: LimitRule[], now: Date, tx?: Tx): Promise<LimitVerdict>;
  /** Counts a hit for each rule without checking (e.g. a failed verification). */
  abstract record(rules: LimitRule[], now: Date, tx?: Tx): Promise<void>;
  /** The hits of `key` within the last `windowMs` (counts nothing). */
  abstract hitsWithin(key: string, windowMs: number, now: Date, tx?: Tx): Promise<number>;
  /**
   * Counts a hit at once for an act whose outcome is not known yet, given back if it does not
   * count: for stores the caller's row lock does not order (Redis; ADR 0016).
   */
  takeHit?(rule: LimitRule, now: Date, tx?: Tx): Promise<TakenHit>;
}
