import type { AppConfig } from '../../../src/app.config';
import { AppLogger } from '../../../src/common/logging/app-logger';
import { Metrics } from '../../../src/common/metrics/metrics';
import { CodeMac } from '../../../src/phone/code-mac';
import { counterKeys } from '../../../src/phone/fraud/database-fraud-store';
import { SmsFraudGuard } from '../../../src/phone/fraud/sms-fraud-guard';
import {
  Bucket,
  DAY,
  FraudHistory,
  FraudSubject,
  HISTORY_DAYS,
  hourOf,
  SmsFraudStore,
} from '../../../src/phone/fraud/sms-fraud-store';
import { SmsFraudMetrics } from '../../../src/phone/fraud/sms-fraud.metrics';
import { codeMac } from './config';

/** The guard's counters in memory, keyed as the database store keys them. */
export class InMemorySmsFraudStore extends SmsFraudStore {
  /** key → hour → counts */
  readonly counts = new Map<string, Map<number, Bucket>>();
  /** number hash → when it was verified */
  readonly verifiedNumbers = new Map<string, number>();
  failWith?: Error;

  async history(_tx: unknown, subject: FraudSubject, now: Date, rememberSince: Date): Promise<FraudHistory> {
    this.failIfDown();
    const keys = counterKeys(subject);
    const since = hourOf(now) - HISTORY_DAYS * DAY;
    const of = (key: string | undefined) =>
      key ? [...(this.counts.get(key)?.values() ?? [])].filter((b) => b.hour >= since).map((b) => ({ ...b })) : [];
    const addressCountries = new Map<string, Bucket[]>();
    if (keys.addressCountries) {
      for (const key of this.counts.keys()) {
        if (key.startsWith(keys.addressCountries))
          addressCountries.set(key.slice(keys.addressCountries.length), of(key));
      }
    }
    return {
      country: of(keys.country),
      prefix: of(keys.prefix),
      address: of(keys.address),
      addressCountries,
      numberVerified: (this.verifiedNumbers.get(subject.numberHash) ?? -Infinity) >= rememberSince.getTime(),
    };
  }

  async countSend(_tx: unknown, subject: FraudSubject, now: Date): Promise<void> {
    this.failIfDown();
    this.add(subject, hourOf(now), 1, 0);
  }

  async countVerified(_tx: unknown, subject: FraudSubject, sentAt: Date, now: Date): Promise<void> {
    this.failIfDown();
    this.add(subject, hourOf(sentAt), 0, 1);
    this.verifiedNumbers.set(subject.numberHash, now.getTime());
  }

  /** Sets a counter hour directly (history a test starts from); `key` as counterKeys names it. */
  seed(key: string, at: Date | number, sent: number, verified = 0): void {
    const hour = hourOf(at);
    const hours = this.counts.get(key) ?? new Map<number, Bucket>();
    hours.set(hour, { hour, sent, verified });
    this.counts.set(key, hours);
  }

  /** The sends and verifications of `key` in all its hours. */
  total(key: string): { sent: number; verified: number } {
    let sent = 0;
    let verified = 0;
    for (const b of this.counts.get(key)?.values() ?? []) {
      sent += b.sent;
      verified += b.verified;
    }
    return { sent, verified };
  }

  private add(subject: FraudSubject, hour: number, sent: number, verified: number): void {
    const keys = counterKeys(subject);
    for (const key of [keys.country, keys.prefix, keys.address, keys.addressCountry]) {
      if (!key) continue;
      const hours = this.counts.get(key) ?? new Map<number, Bucket>();
      const bucket = hours.get(hour) ?? { hour, sent: 0, verified: 0 };
      bucket.sent += sent;
      bucket.verified += verified;
      hours.set(hour, bucket);
      this.counts.set(key, hours);
    }
  }

  private failIfDown(): void {
    if (this.failWith) throw this.failWith;
  }
}

/** Every log line the guard wrote, as (level, object). */
export class CapturingLogger {
  readonly lines: Array<{ level: string; object: Record<string, any>; message?: string }> = [];
  setContext(): void {}
  private push = (level: string) => (object: object | string, message?: string) =>
    this.lines.push({
      level,
      object: typeof object === 'string' ? { msg: object } : (object as Record<string, any>),
      message,
    });
  trace = this.push('trace');
  debug = this.push('debug');
  info = this.push('info');
  warn = this.push('warn');
  error = this.push('error');
}

/** A guard over an in-memory store, its metrics on a registry of their own. */
export function fraudGuard(
  config: AppConfig,
  store: SmsFraudStore = new InMemorySmsFraudStore(),
  mac: CodeMac = codeMac(config),
  logger: CapturingLogger = new CapturingLogger(),
  metrics: Metrics = new Metrics(),
): SmsFraudGuard {
  return new SmsFraudGuard(config.fraud, store, mac, new SmsFraudMetrics(metrics), logger as unknown as AppLogger);
}
