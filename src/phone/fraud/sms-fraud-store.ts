import type { Tx } from '../../database/sql';

export const HOUR = 3_600_000;
export const DAY = 86_400_000;
/** How far back the rules look (the highest verified count per day of the last 14 days). */
export const HISTORY_DAYS = 14;
/** Counters older than this count for nothing any more: the least SMS_FRAUD_COUNTER_RETENTION, its default. */
export const RETENTION_MS = (HISTORY_DAYS + 1) * DAY;

/** One hour of one counter: sends, and how many of those sends were then verified. */
export interface Bucket {
  /** start of the hour, epoch milliseconds */
  hour: number;
  sent: number;
  verified: number;
}

/**
 * What a send is counted under. Never the number itself: `numberHash` is a keyed hash of it,
 * `prefix` the number without its last 4 digits.
 */
export interface FraudSubject {
  country: string;
  prefix: string;
  /** the client address (an IPv6 one by its /64); undefined when the transport reported none */
  address?: string;
  numberHash: string;
}

/** The counters of a subject over the last HISTORY_DAYS, by hour. */
export interface FraudHistory {
  country: Bucket[];
  prefix: Bucket[];
  address: Bucket[];
  /** per destination country, the sends of this address there */
  addressCountries: Map<string, Bucket[]>;
  /** the number was verified within SMS_FRAUD_REMEMBER_VERIFIED */
  numberVerified: boolean;
}

/**
 * Where the pumping guard's counters live: the database by default, Redis when REDIS_URL is set
 * (as the rate limits), so every instance sees the same counts. `tx` is the caller's transaction
 * (the database store counts in it; the Redis store ignores it).
 */
export abstract class SmsFraudStore {
  /**
   * The subject's counters since `now` − HISTORY_DAYS (and whether its number was verified since
   * `rememberSince`); without `tx`, read on their own (the pre-send checks' advisory counts).
   */
  abstract history(tx: Tx | undefined, subject: FraudSubject, now: Date, rememberSince: Date): Promise<FraudHistory>;
  /** One send at `now`. */
  abstract countSend(tx: Tx, subject: FraudSubject, now: Date): Promise<void>;
  /** A verification of the code sent at `sentAt`: counted in that hour's buckets; the number is remembered as verified. */
  abstract countVerified(tx: Tx, subject: FraudSubject, sentAt: Date, now: Date): Promise<void>;
}

export const hourOf = (at: Date | number): number => Math.floor(new Date(at).getTime() / HOUR) * HOUR;
