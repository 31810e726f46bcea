import { Injectable } from '@nestjs/common';
import { parsePhoneNumberFromString } from 'libphonenumber-js/max';
import { Counter } from 'prom-client';
import { AppLogger } from '../../common/logging/app-logger';
import { Metrics } from '../../common/metrics/metrics';
import type { Tx } from '../../database/sql';
import type { FraudBlock } from '../fraud/sms-fraud-guard';
import type { SmsOutboxEntity } from '../outbox/sms-outbox.entity';
import { PhoneEvents } from '../phone-events';
import { PhoneErrors } from '../phone.errors';
import { SmsSettings } from '../sms/sms.settings';
import { configuredProviders } from '../sms/sms-routes';
import { Micros } from './money';
import { PriceTable } from './price-table';
import { capApplies, CountryGroups, dayStart, monthStart, parseCaps, SpendCap } from './spend-caps';
import { SmsSpendCountsRepository, SpendIncrement } from './sms-spend-counts.repository';
import { SpendSettings } from './spend.settings';

/** The counter keys (see SmsSpendCountEntity). */
export const spendKeys = {
  instance: 'i',
  org: (orgId: string) => `o:${orgId}`,
  country: (country: string) => `c:${country}`,
  group: (group: string) => `g:${group}`,
  provider: (provider: string, label: string) => `p:${provider}|${label}`,
};

/** The counter a cap reads (an org cap: the sending org's). */
function capKey(cap: SpendCap, orgId: string): string {
  if (cap.scope === 'org') return spendKeys.org(orgId);
  if (cap.scope === 'country')
    return /^[A-Z]{2}$/.test(cap.target!) ? spendKeys.country(cap.target!) : spendKeys.group(cap.target!);
  return spendKeys.instance;
}

/**
 * Spending caps in money (ADR 0027): a send is admitted against the caps with the dearest price
 * to its country (in the issuer's transaction, no external call); what a provider accepted is
 * counted at that provider's price; a receipt's reported price replaces it. `record` counts and
 * logs what a cap would refuse; `enforce` refuses with 429 SPEND_CAP.
 */
@Injectable()
export class SmsSpendGuard {
  readonly prices: PriceTable;
  readonly caps: SpendCap[];
  readonly groups: CountryGroups;
  private readonly providers: string[];
  /** countries the metrics name; every other one is `other` */
  private readonly named: Set<string>;
  private readonly refusals: Counter<'cap' | 'mode'>;

  constructor(
    private readonly config: SpendSettings,
    sms: SmsSettings,
    private readonly counts: SmsSpendCountsRepository,
    private readonly logger: AppLogger,
    metrics: Metrics,
  ) {
    logger.setContext(SmsSpendGuard.name);
    this.refusals = new Counter({
      name: 'pv_sms_spend_refusals_total',
      help: 'Sends a spending cap refused (enforce) or would have refused (record), by cap',
      labelNames: ['cap', 'mode'],
      registers: [metrics.registry],
    });
    this.prices = PriceTable.parse(config.prices).table;
    this.groups = CountryGroups.parse(config.countryGroups).groups;
    this.caps = parseCaps(config.caps, this.groups).caps;
    this.providers = configuredProviders(sms);
    this.named = new Set([
      ...this.prices.countries(),
      ...this.caps.filter((c) => c.scope === 'country' && /^[A-Z]{2}$/.test(c.target!)).map((c) => c.target!),
    ]);
    if (this.enabled) for (const cap of this.caps) this.refusals.inc({ cap: cap.name, mode: config.mode }, 0);
  }

  get enabled(): boolean {
    return this.config.mode !== 'off';
  }

  get currency(): string {
    return this.config.currency;
  }

  /** The metrics' label of a country: its group, the country when the prices or caps name it, else `other`. */
  countryLabel(country: string | undefined): string {
    return this.groups.of(country) ?? (country && this.named.has(country) ? country : 'other');
  }

  /**
   * Judges one send before it is queued (in the caller's transaction). A refusal (enforce) is
   * returned, never thrown: the caller commits its event and answers its error.
   */
  async admit(
    tx: Tx,
    send: { orgId: string; country: string | undefined; now: Date },
  ): Promise<FraudBlock | undefined> {
    if (!this.enabled || this.caps.length === 0) return undefined;
    const { orgId, country, now } = send;
    const group = this.groups.of(country);
    const applying = this.caps.filter((cap) => capApplies(cap, country, group));
    if (applying.length === 0) return undefined;
    const estimate = this.prices.worstCase(this.providers, country);
    const sums = await this.counts.sums(
      tx,
      [...new Set(applying.map((cap) => capKey(cap, orgId)))],
      monthStart(now),
      dayStart(now),
    );
    const reached = applying.find((cap) => {
      const spent = sums.get(capKey(cap, orgId))?.[cap.window] ?? 0;
      return spent >= cap.micros || spent + estimate > cap.micros;
    });
    if (!reached) return undefined;
    const line = { smsSpend: { mode: this.config.mode, cap: reached.name, country, estimateMicros: estimate } };
    this.refusals.inc({ cap: reached.name, mode: this.config.mode });
    if (this.config.mode === 'record') {
      this.logger.info(line, 'SMS spending cap would refuse this send');
      return undefined;
    }
    this.logger.warn(line, 'SMS spending cap refused a send');
    return {
      error: PhoneErrors.spendCap(reached.name),
      event: {
        type: PhoneEvents.codeSendBlocked,
        payload: { rule: 'spend_cap', cap: reached.name, country: country ?? 'unknown' },
      },
    };
  }

  /**
   * Counts a message `provider` accepted at its price (in the transaction that records the
   * acceptance); returns the row's spend fields, or undefined when spending is not counted.
   */
  async accepted(tx: Tx, row: Pick<SmsOutboxEntity, 'orgId' | 'recipient'>, provider: string, at: Date) {
    if (!this.enabled) return undefined;
    const country = countryOf(row.recipient);
    const micros = this.prices.price(provider, country);
    const day = dayStart(at);
    await this.counts.add(tx, this.increments(row, provider, country, day, micros));
    return { spendMicros: micros, spendDay: day };
  }

  /**
   * A receipt reported what `row`'s message cost: the difference to what it was counted at goes to
   * the day it was counted on. Returns the row's new spend, or undefined when nothing changes
   * (not counted, another currency, the same price).
   */
  async reported(
    tx: Tx,
    row: Pick<SmsOutboxEntity, 'orgId' | 'recipient' | 'spendMicros' | 'spendDay'>,
    provider: string,
    price: { micros: Micros; currency?: string | null },
  ) {
    if (!this.enabled || row.spendMicros == null || row.spendDay == null) return undefined;
    if (price.currency && price.currency !== this.config.currency) {
      this.logger.warn(
        { smsSpend: { provider, currency: price.currency } },
        'receipt price in another currency: kept the estimate',
      );
      return undefined;
    }
    const delta = price.micros - row.spendMicros;
    if (delta === 0) return undefined;
    await this.counts.add(tx, this.increments(row, provider, countryOf(row.recipient), row.spendDay, delta));
    return { spendMicros: price.micros };
  }

  private increments(
    row: Pick<SmsOutboxEntity, 'orgId'>,
    provider: string,
    country: string | undefined,
    day: number,
    micros: Micros,
  ): SpendIncrement[] {
    const group = this.groups.of(country);
    const keys = [
      spendKeys.instance,
      spendKeys.org(row.orgId),
      spendKeys.country(country ?? 'unknown'),
      spendKeys.provider(provider, this.countryLabel(country)),
      ...(group ? [spendKeys.group(group)] : []),
    ];
    return keys.map((key) => ({ key, day, micros }));
  }
}

/** The destination country of an E.164 number (undefined when no country owns it). */
export function countryOf(e164: string): string | undefined {
  return parsePhoneNumberFromString(e164)?.country;
}
