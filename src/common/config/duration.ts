import ms from 'ms';

/** Parses "10m", "30s", "1h" or a bare number of seconds into milliseconds; NaN when unreadable. */
export function parseDuration(value: string | number): number {
  if (typeof value === 'number') return value * 1000;
  const trimmed = value.trim();
  if (/^\d+$/.test(trimmed)) return Number(trimmed) * 1000;
  const parsed = ms(trimmed as ms.StringValue);
  return typeof parsed === 'number' ? parsed : Number.NaN;
}
