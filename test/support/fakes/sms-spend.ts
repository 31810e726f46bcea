import type { AppConfig } from '../../../src/app.config';
import { AppLogger } from '../../../src/common/logging/app-logger';
import { Metrics } from '../../../src/common/metrics/metrics';
import type { Tx } from '../../../src/database/sql';
import {
  SmsSpendCountsRepository,
  SpendIncrement,
  SpendSums,
} from '../../../src/phone/spend/sms-spend-counts.repository';
import { SmsSpendGuard } from '../../../src/phone/spend/sms-spend-guard';
import { CapturingLogger } from './sms-fraud';

/** The spend counters in memory: key → day → micros. */
export class InMemorySpendCounts {
  readonly days = new Map<string, Map<number, number>>();

  async sums(_tx: Tx | undefined, keys: string[] | undefined, monthStart: number, dayStart: number) {
    const sums = new Map<string, SpendSums>();
    for (const [key, days] of this.days) {
      if (keys && !keys.includes(key)) continue;
      const sum = { day: 0, month: 0 };
      for (const [day, micros] of days) {
        if (day >= monthStart) sum.month += micros;
        if (day >= dayStart) sum.day += micros;
      }
      sums.set(key, sum);
    }
    return sums;
  }

  async add(_tx: Tx, increments: SpendIncrement[]): Promise<void> {
    for (const { key, day, micros } of increments) {
      const days = this.days.get(key) ?? new Map<number, number>();
      days.set(day, (days.get(day) ?? 0) + micros);
      this.days.set(key, days);
    }
  }

  async prune(_tx: Tx, before: number): Promise<number> {
    let pruned = 0;
    for (const days of this.days.values()) {
      for (const day of days.keys()) if (day < before && days.delete(day)) pruned++;
    }
    return pruned;
  }
}

/** A spend guard over in-memory counters. */
export function spendGuard(
  config: AppConfig,
  counts: InMemorySpendCounts = new InMemorySpendCounts(),
  logger: CapturingLogger = new CapturingLogger(),
  metrics: Metrics = new Metrics(),
): SmsSpendGuard {
  return new SmsSpendGuard(
    config.spend,
    config.sms,
    counts as unknown as SmsSpendCountsRepository,
    logger as unknown as AppLogger,
    metrics,
  );
}
