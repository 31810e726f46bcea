import { Injectable } from '@nestjs/common';
import type { Tx } from '../../database/sql';
import { CountRow, Increment, SmsFraudCountsRepository } from './sms-fraud-counts.repository';
import {
  Bucket,
  DAY,
  FraudHistory,
  FraudSubject,
  HISTORY_DAYS,
  hourOf,
  RETENTION_MS,
  SmsFraudStore,
} from './sms-fraud-store';

/** The counter keys of a subject (see SmsFraudCountEntity). */
export function counterKeys(subject: FraudSubject) {
  const address = subject.address;
  return {
    country: `c:${subject.country}`,
    prefix: `p:${subject.prefix}`,
    address: address === undefined ? undefined : `a:${address}`,
    addressCountries: address === undefined ? undefined : `ac:${address}|`,
    addressCountry: address === undefined ? undefined : `ac:${address}|${subject.country}`,
  };
}

/**
 * The counters in `sms_fraud_counts`, written with the caller's closing writes. Reads are not
 * serialised across instances: a few sends may pass a threshold, which a guard of rates tolerates (ADR 0017).
 */
@Injectable()
export class DatabaseSmsFraudStore extends SmsFraudStore {
  private prunedHour = 0;

  constructor(
    private readonly counts: SmsFraudCountsRepository,
    private readonly rememberMs: number,
    /** SMS_FRAUD_COUNTER_RETENTION */
    private readonly retentionMs: number = RETENTION_MS,
  ) {
    super();
  }

  async history(tx: Tx | undefined, subject: FraudSubject, now: Date, rememberSince: Date): Promise<FraudHistory> {
    const keys = counterKeys(subject);
    const since = hourOf(now) - HISTORY_DAYS * DAY;
    const plain = [keys.country, keys.prefix, ...(keys.address ? [keys.address] : [])];
    const [rows, numberVerified] = await Promise.all([
      this.counts.rows(tx, plain, keys.addressCountries, since),
      this.counts.isVerified(tx, subject.numberHash, rememberSince.getTime()),
    ]);
    const bucket = ({ hour, sent, verified }: CountRow): Bucket => ({ hour, sent, verified });
    const of = (key: string | undefined): Bucket[] => rows.filter((r) => r.key === key).map(bucket);
    const addressCountries = new Map<string, Bucket[]>();
    if (keys.addressCountries) {
      for (const row of rows) {
        if (!row.key.startsWith(keys.addressCountries)) continue;
        const country = row.key.slice(keys.addressCountries.length);
        addressCountries.set(country, [...(addressCountries.get(country) ?? []), bucket(row)]);
      }
    }
    return {
      country: of(keys.country),
      prefix: of(keys.prefix),
      address: of(keys.address),
      addressCountries,
      numberVerified,
    };
  }

  async countSend(tx: Tx, subject: FraudSubject, now: Date): Promise<void> {
    await Promise.all([this.counts.add(tx, increments(subject, hourOf(now), 1, 0)), this.pruneHourly(tx, now)]);
  }

  async countVerified(tx: Tx, subject: FraudSubject, sentAt: Date, now: Date): Promise<void> {
    await Promise.all([
      this.counts.add(tx, increments(subject, hourOf(sentAt), 0, 1)),
      this.counts.rememberVerified(tx, subject.numberHash, now.getTime()),
    ]);
  }

  private async pruneHourly(tx: Tx, now: Date): Promise<void> {
    const hour = hourOf(now);
    if (hour === this.prunedHour) return;
    this.prunedHour = hour;
    await this.counts.prune(tx, hour - this.retentionMs, now.getTime() - this.rememberMs);
  }
}

function increments(subject: FraudSubject, hour: number, sent: number, verified: number): Increment[] {
  const keys = counterKeys(subject);
  return [keys.country, keys.prefix, keys.address, keys.addressCountry]
    .filter((key): key is string => key !== undefined)
    .map((key) => ({ key, hour, sent, verified }));
}
