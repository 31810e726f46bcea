/** Money as integer micro-units of SMS_PRICE_CURRENCY (1 = 0.000001): sums stay exact, never floats. */
export type Micros = number;

export const MICROS_PER_UNIT = 1_000_000;

const AMOUNT = /^(\d{1,9})(?:\.(\d{1,6}))?$/;

/** "0.0741" → 74100; undefined for anything else than a plain non-negative decimal with at most 6 decimals. */
export function parseAmount(text: string): Micros | undefined {
  const match = AMOUNT.exec(text.trim());
  if (!match) return undefined;
  return Number(match[1]) * MICROS_PER_UNIT + Number((match[2] ?? '').padEnd(6, '0'));
}

/**
 * A price a provider reported ("0.03330000", Twilio's "-0.00750"): its absolute value in micros,
 * rounded half up past the sixth decimal; undefined when it is not a decimal number.
 */
export function parseReportedPrice(text: string | undefined): Micros | undefined {
  const match = /^-?(\d{1,9})(?:\.(\d+))?$/.exec((text ?? '').trim());
  if (!match) return undefined;
  const decimals = match[2] ?? '';
  const micros = Number(match[1]) * MICROS_PER_UNIT + Number(decimals.slice(0, 6).padEnd(6, '0'));
  return decimals.length > 6 && Number(decimals[6]) >= 5 ? micros + 1 : micros;
}

/** Micros in currency units, for the metrics (a float only at the edge). */
export const toUnits = (micros: Micros): number => micros / MICROS_PER_UNIT;
