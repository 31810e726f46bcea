/**
 * Scalars as the protobuf JSON mapping writes them (https://protobuf.dev/programming-guides/json/),
 * read as strictly as Go's protojson, which ZITADEL's REST gateway uses.
 */

const RFC3339 = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?(?:Z|([+-])(\d{2}):(\d{2}))$/;
// google.protobuf.Timestamp's range: 0001-01-01T00:00:00Z to 9999-12-31T23:59:59.999999999Z
export const TIMESTAMP_MIN_MS = -62_135_596_800_000;
export const TIMESTAMP_MAX_MS = 253_402_300_799_999;
const DAYS = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

const isLeap = (year: number) => year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0);

/**
 * A Timestamp's JSON form: RFC 3339 with an upper-case "T", "Z" or a numeric offset, 0 to 9
 * fractional digits, a real calendar date. Returns the instant in milliseconds (the precision
 * we store), or undefined when the text is none.
 */
export function rfc3339Millis(text: string): number | undefined {
  const m = RFC3339.exec(text);
  if (!m) return undefined;
  const [year, month, day, hour, minute, second] = m.slice(1, 7).map(Number);
  if (month < 1 || month > 12 || day < 1 || day > (month === 2 && isLeap(year) ? 29 : DAYS[month - 1])) {
    return undefined;
  }
  if (hour > 23 || minute > 59 || second > 59) return undefined;
  let offsetMinutes = 0;
  if (m[8]) {
    const [offsetHours, offsetRest] = [Number(m[9]), Number(m[10])];
    if (offsetHours > 23 || offsetRest > 59) return undefined;
    offsetMinutes = (m[8] === '-' ? -1 : 1) * (offsetHours * 60 + offsetRest);
  }
  const date = new Date(0);
  // setUTCFullYear, unlike Date.UTC, does not read years 0–99 as 1900–1999
  date.setUTCFullYear(year, month - 1, day);
  date.setUTCHours(hour, minute, second, Number((m[7] ?? '').padEnd(3, '0').slice(0, 3)));
  const ms = date.getTime() - offsetMinutes * 60_000;
  return ms >= TIMESTAMP_MIN_MS && ms <= TIMESTAMP_MAX_MS ? ms : undefined;
}

const STANDARD = /^[A-Za-z0-9+/]*$/;
const URL_SAFE = /^[A-Za-z0-9_-]*$/;

/** bytes: standard or URL-safe base64, with or without padding (not both alphabets at once). */
export function isBase64(text: string): boolean {
  const alphabet = /[-_]/.test(text) ? URL_SAFE : STANDARD;
  const body = text.length % 4 === 0 ? text.replace(/={1,2}$/, '') : text;
  return alphabet.test(body) && body.length % 4 !== 1;
}

const INTEGER_TEXT = /^-?\d+$/;

/**
 * An integer field: a JSON number with an integral value, or a string of one (the mapping's form
 * for 64-bit types, accepted for all). Returns it as a bigint when it lies in [min, max].
 */
export function integerIn(value: unknown, min: bigint, max: bigint): bigint | undefined {
  let n: bigint;
  if (typeof value === 'number' && Number.isInteger(value)) n = BigInt(value);
  else if (typeof value === 'string' && INTEGER_TEXT.test(value)) n = BigInt(value);
  else return undefined;
  return n >= min && n <= max ? n : undefined;
}

const FLOAT_TEXT = /^-?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$/;

/** float / double: a JSON number, a string of one, or "NaN", "Infinity", "-Infinity". */
export function floatOf(value: unknown): number | undefined {
  if (typeof value === 'number') return value;
  if (typeof value !== 'string') return undefined;
  if (value === 'NaN') return NaN;
  if (value === 'Infinity') return Infinity;
  if (value === '-Infinity') return -Infinity;
  return FLOAT_TEXT.test(value) ? Number(value) : undefined;
}
