import { Injectable } from '@nestjs/common';
import { Gauge } from 'prom-client';
import { Clock } from '../../common/clock';
import { DependencyOutages } from '../../common/errors/dependency-outages';
import { AppLogger } from '../../common/logging/app-logger';
import { Metrics } from '../../common/metrics/metrics';
import { toUnits } from './money';
import { dayStart, monthStart } from './spend-caps';
import { SmsSpendCountsRepository, SpendSums } from './sms-spend-counts.repository';
import { spendKeys, SmsSpendGuard } from './sms-spend-guard';

/**
 * The spend gauges, read from the shared counters when scraped: every instance reports the same
 * values (take max(), not sum()); NaN while the database cannot answer.
 * `pv_sms_spend_total{provider,country_group}`: this UTC month's spend in SMS_PRICE_CURRENCY;
 * `pv_sms_spend_cap_ratio{cap}`: spent / cap per SMS_SPEND_CAPS entry (an org cap: the highest org's).
 */
@Injectable()
export class SmsSpendMetrics {
  private reading?: Promise<Map<string, SpendSums> | undefined>;
  private broken = false;

  constructor(
    metrics: Metrics,
    guard: SmsSpendGuard,
    private readonly counts: SmsSpendCountsRepository,
    private readonly clock: Clock,
    private readonly outages: DependencyOutages,
    private readonly logger: AppLogger,
  ) {
    logger.setContext(SmsSpendMetrics.name);
    if (!guard.enabled) return;
    const read = () => this.read();
    new Gauge({
      name: 'pv_sms_spend_total',
      help: `SMS spend of the current UTC month in ${guard.currency}, by provider and destination country group (receipts' prices where reported, else SMS_PRICES)`,
      labelNames: ['provider', 'country_group'],
      registers: [metrics.registry],
      async collect() {
        const sums = await read();
        this.reset();
        for (const [key, sum] of sums ?? []) {
          if (!key.startsWith('p:')) continue;
          const [provider, group] = key.slice(2).split('|');
          this.set({ provider, country_group: group }, toUnits(sum.month));
        }
      },
    });
    new Gauge({
      name: 'pv_sms_spend_cap_ratio',
      help: 'SMS spend over its cap, per SMS_SPEND_CAPS entry (an org cap: the organization closest to it); alert at 0.8',
      labelNames: ['cap'],
      registers: [metrics.registry],
      async collect() {
        const sums = await read();
        for (const cap of guard.caps) {
          let spent = NaN;
          if (sums) {
            const keys =
              cap.scope === 'instance'
                ? [spendKeys.instance]
                : cap.scope === 'org'
                  ? [...sums.keys()].filter((key) => key.startsWith('o:'))
                  : [/^[A-Z]{2}$/.test(cap.target!) ? spendKeys.country(cap.target!) : spendKeys.group(cap.target!)];
            spent = Math.max(0, ...keys.map((key) => sums.get(key)?.[cap.window] ?? 0));
          }
          this.set({ cap: cap.name }, spent / cap.micros);
        }
      },
    });
  }

  /** One query for the gauges of one scrape. */
  private read(): Promise<Map<string, SpendSums> | undefined> {
    this.reading ??= this.query().finally(() => (this.reading = undefined));
    return this.reading;
  }

  private async query(): Promise<Map<string, SpendSums> | undefined> {
    const now = this.clock.now();
    try {
      const sums = await this.counts.sums(undefined, undefined, monthStart(now), dayStart(now));
      this.broken = false;
      return sums;
    } catch (error) {
      if (!this.outages.databaseFailed(error) && !this.broken) {
        this.broken = true;
        this.logger.error({ err: error }, 'SMS spend gauges could not be read');
      }
      return undefined;
    }
  }
}
