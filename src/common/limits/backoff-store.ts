import type { Tx } from '../../database/sql';

/**
 * A progressive back-off on one key (an SMS destination number): after `freeSends` sends without
 * a reset, each further send waits twice as long as the one before it, from `baseMs` up to
 * `maxMs`, less up to JITTER of it.
 */
export interface BackoffPolicy {
  freeSends: number;
  baseMs: number;
  maxMs: number;
}

/** How much of a wait the jitter may take off: a wait lies in (wait × (1 − JITTER), wait]. */
export const BACKOFF_JITTER = 0.2;

/** A key nothing was sent to for this long after its last wait ended starts over. */
export const BACKOFF_QUIET_MS = 86_400_000;

/** `sends`: the sends counted so far (since the last reset, or the key was forgotten). */
export type BackoffVerdict = { ok: true; sends: number } | { ok: false; retryAfterMs: number };

/**
 * The wait the `sends`-th send imposes on the next one: none during the free sends, then
 * base, 2 × base, 4 × base … up to max; `random` in [0, 1) takes up to JITTER of it off.
 */
export function backoffWaitMs(sends: number, policy: BackoffPolicy, random: number): number {
  if (sends < policy.freeSends) return 0;
  const doublings = Math.min(sends - policy.freeSends, 40);
  const nominal = Math.min(policy.maxMs, policy.baseMs * 2 ** doublings);
  return Math.max(1, Math.round(nominal * (1 - BACKOFF_JITTER * random)));
}

/** Back-off state per key, beside the limit counters (ADR 0001, 0016): sends counted, and the next one's wait. */
export abstract class BackoffStore {
  /** Whether a send to `key` may go now; counts nothing. */
  abstract check(key: string, now: Date, tx?: Tx): Promise<BackoffVerdict>;
  /** Counts a send: `sends` sends so far (this one included), the next waits until `now + waitMs`. */
  abstract record(key: string, sends: number, waitMs: number, now: Date, tx?: Tx): Promise<void>;
  /** Forgets the key (its number was verified). */
  abstract reset(key: string, tx?: Tx): Promise<void>;
  /** Forgets every key that starts with `keyPrefix` (an operator clears a number); returns how many. */
  abstract clear(keyPrefix: string): Promise<number>;
}
