import { Micros, parseAmount } from './money';

/** Any provider or any country in SMS_PRICES. */
const ANY = '*';

/**
 * SMS_PRICES: what one text costs, by provider and destination country, as
 * `provider:COUNTRY=amount` entries (`*` for any provider or any country), comma-separated:
 * `twilio:CH=0.0741,twilio:*=0.05,*:LV=0.25`. The most specific entry wins (provider and country,
 * then provider, then country, then `*:*`); none is 0, an unknown price.
 */
export class PriceTable {
  private constructor(private readonly prices: ReadonlyMap<string, Micros>) {}

  static readonly EMPTY = new PriceTable(new Map());

  /** The table, or the problems of its entries (each named). */
  static parse(text: string | undefined): { table: PriceTable; problems: string[] } {
    const prices = new Map<string, Micros>();
    const problems: string[] = [];
    for (const entry of (text ?? '')
      .split(',')
      .map((e) => e.trim())
      .filter(Boolean)) {
      const match = /^([a-z0-9_-]+|\*):([A-Z]{2}|\*)=(.+)$/.exec(entry);
      const amount = match ? parseAmount(match[3]) : undefined;
      if (!match || amount === undefined) {
        problems.push(`not provider:COUNTRY=amount (such as twilio:CH=0.0741): ${JSON.stringify(entry)}`);
        continue;
      }
      const key = `${match[1]}:${match[2]}`;
      if (prices.has(key)) problems.push(`${key} is priced twice`);
      prices.set(key, amount);
    }
    return { table: new PriceTable(prices), problems };
  }

  /** The price of one text through `provider` to `country` (undefined country: only the provider's and `*:*` apply). */
  price(provider: string, country: string | undefined): Micros {
    const c = country ?? '';
    return (
      this.prices.get(`${provider}:${c}`) ??
      this.prices.get(`${provider}:${ANY}`) ??
      this.prices.get(`${ANY}:${c}`) ??
      this.prices.get(`${ANY}:${ANY}`) ??
      0
    );
  }

  /**
   * The estimate a send is admitted with: the dearest price to `country` among `providers` (the
   * configured ones, whichever of them the route or a failover ends up using).
   */
  worstCase(providers: readonly string[], country: string | undefined): Micros {
    return Math.max(0, ...providers.map((provider) => this.price(provider, country)));
  }

  /** The countries the table names (the metrics label them by name, every other one as `other`). */
  countries(): string[] {
    return [...this.prices.keys()].map((key) => key.split(':')[1]).filter((c) => c !== ANY);
  }
}
