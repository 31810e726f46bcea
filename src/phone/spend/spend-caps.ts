import { Micros, parseAmount } from './money';

export const DAY_MS = 86_400_000;
export type SpendWindow = 'day' | 'month';

/** The start (epoch ms) of the UTC day of `at`. */
export const dayStart = (at: Date): number => Math.floor(at.getTime() / DAY_MS) * DAY_MS;
/** The start (epoch ms) of the UTC month of `at`. */
export const monthStart = (at: Date): number => Date.UTC(at.getUTCFullYear(), at.getUTCMonth(), 1);
/** The start of the UTC month before `at`'s: the spend counters are kept from there (retention). */
export const previousMonthStart = (at: Date): number => Date.UTC(at.getUTCFullYear(), at.getUTCMonth() - 1, 1);

/** One cap of SMS_SPEND_CAPS; `name` is how it is written there and how the metrics and errors name it. */
export interface SpendCap {
  name: string;
  scope: 'instance' | 'org' | 'country';
  /** for a country cap: the ISO code or the SMS_SPEND_COUNTRY_GROUPS group */
  target?: string;
  window: SpendWindow;
  micros: Micros;
}

const CAP = /^(?:(org)\.|country\.([A-Z]{2}|[a-z][a-z0-9_]{0,31})\.)?(day|month):(.+)$/;

/**
 * SMS_SPEND_CAPS: comma-separated `[scope.]window:amount`, the window `day` or `month` (UTC), the
 * scope none (the whole instance), `org` (each organization) or `country.<ISO code or group>`:
 * `day:200,month:3000,org.day:50,country.premium.day:200,country.CH.month:100`.
 */
export function parseCaps(text: string | undefined, groups: CountryGroups): { caps: SpendCap[]; problems: string[] } {
  const caps: SpendCap[] = [];
  const problems: string[] = [];
  for (const entry of (text ?? '')
    .split(',')
    .map((e) => e.trim())
    .filter(Boolean)) {
    const match = CAP.exec(entry);
    const micros = match ? parseAmount(match[4]) : undefined;
    if (!match || !micros) {
      problems.push(
        `not [org.|country.<CODE or group>.]day|month:amount with an amount above 0 (such as org.day:50): ${JSON.stringify(entry)}`,
      );
      continue;
    }
    const [, org, target, window] = match;
    if (target && /^[a-z]/.test(target) && !groups.has(target)) {
      problems.push(`${entry}: no group ${target} in SMS_SPEND_COUNTRY_GROUPS`);
      continue;
    }
    const name = entry.slice(0, entry.lastIndexOf(':'));
    if (caps.some((cap) => cap.name === name)) problems.push(`${name} is capped twice`);
    const scope = org ? 'org' : target ? 'country' : 'instance';
    caps.push({ name, scope, target, window: window as SpendWindow, micros });
  }
  return { caps, problems };
}

/** SMS_SPEND_COUNTRY_GROUPS: `name=CC|CC|…` entries, comma-separated (`premium=LV|LT|EE,dach=DE|AT|CH`); a country in one group at most. */
export class CountryGroups {
  private constructor(private readonly groupOf: ReadonlyMap<string, string>) {}

  static parse(text: string | undefined): { groups: CountryGroups; problems: string[] } {
    const groupOf = new Map<string, string>();
    const problems: string[] = [];
    for (const entry of (text ?? '')
      .split(',')
      .map((e) => e.trim())
      .filter(Boolean)) {
      const match = /^([a-z][a-z0-9_]{0,31})=([A-Z]{2}(?:\|[A-Z]{2})*)$/.exec(entry);
      if (!match) {
        problems.push(`not name=CC|CC (such as premium=LV|LT): ${JSON.stringify(entry)}`);
        continue;
      }
      if ([...groupOf.values()].includes(match[1])) problems.push(`group ${match[1]} is defined twice`);
      for (const country of match[2].split('|')) {
        const other = groupOf.get(country);
        if (other && other !== match[1]) problems.push(`${country} is in two groups (${other}, ${match[1]})`);
        groupOf.set(country, match[1]);
      }
    }
    return { groups: new CountryGroups(groupOf), problems };
  }

  has(group: string): boolean {
    return [...this.groupOf.values()].includes(group);
  }

  of(country: string | undefined): string | undefined {
    return country === undefined ? undefined : this.groupOf.get(country);
  }

  countries(): string[] {
    return [...this.groupOf.keys()];
  }
}

/** Whether `cap` applies to a send to `country` (of `group`). */
export function capApplies(cap: SpendCap, country: string | undefined, group: string | undefined): boolean {
  if (cap.scope !== 'country') return true;
  return cap.target === country || (group !== undefined && cap.target === group);
}
