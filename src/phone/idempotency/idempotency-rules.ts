import { createHash } from 'node:crypto';
import { AppError } from '../../common/errors/app-error';
import { GrpcStatus } from '../../common/errors/grpc-status';
import { PhoneErrors } from '../phone.errors';
import { IdempotencyErrors } from './idempotency.errors';

/** How long a key's answer is kept and replayed. */
export const IDEMPOTENCY_TTL_MS = 86_400_000;
export const MAX_KEY_LENGTH = 255;

/** The key as given, if it is 1..255 printable ASCII characters (as Stripe's keys and UUIDs are). */
export function checkedKey(raw: string): string {
  if (raw.length === 0) throw IdempotencyErrors.invalidKey('must not be empty');
  if (raw.length > MAX_KEY_LENGTH) throw IdempotencyErrors.invalidKey(`must be at most ${MAX_KEY_LENGTH} characters`);
  if (!/^[\x20-\x7e]+$/.test(raw)) throw IdempotencyErrors.invalidKey('must be printable ASCII characters');
  return raw;
}

/** The row's id: the caller, the method and the key, hashed (the key itself is never stored). */
export function scopeOf(callerId: string, method: string, key: string): string {
  return createHash('sha256')
    .update(JSON.stringify([callerId, method, key]))
    .digest('hex');
}

/** JSON with object keys sorted and undefined left out: the same request gives the same text, whatever its key order. */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(sortedCopy(value)) ?? 'null';
}

function sortedCopy(value: unknown): unknown {
  if (value instanceof Date) return value.toISOString();
  if (Array.isArray(value)) return value.map((v) => (v === undefined ? null : sortedCopy(v)));
  if (value === null || typeof value !== 'object') return value;
  const entries = Object.entries(value as Record<string, unknown>)
    .filter(([, v]) => v !== undefined)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return Object.fromEntries(entries.map(([k, v]) => [k, sortedCopy(v)]));
}

/** The request's fingerprint: a repeat must carry the same one. */
export function fingerprintOf(request: unknown): string {
  return createHash('sha256').update(canonicalJson(request)).digest('hex');
}

/**
 * Errors the use-case decided, replayed like a success: the same request would get them again.
 * Not kept: outages and deadlines (a retry after them must run), limits and the pumping guard
 * (they lift with time), ABORTED (a race: retrying is its remedy), UNAUTHENTICATED, and anything
 * unexpected.
 */
const KEPT_ERRORS = new Set<GrpcStatus>([
  GrpcStatus.INVALID_ARGUMENT,
  GrpcStatus.NOT_FOUND,
  GrpcStatus.ALREADY_EXISTS,
  GrpcStatus.PERMISSION_DENIED,
  GrpcStatus.FAILED_PRECONDITION,
  GrpcStatus.OUT_OF_RANGE,
  GrpcStatus.UNIMPLEMENTED,
]);

/**
 * Refusals that hang on what is not the request: the CAPTCHA token (a header) and the send hook's
 * verdict. A retry with a new token under the same key must be judged again.
 */
const JUDGED_APART = new Set([
  PhoneErrors.captchaRequired().id,
  PhoneErrors.captchaFailed('invalid', '').id,
  PhoneErrors.sendHookDenied('').id,
]);

export function keptError(error: unknown): error is AppError {
  return error instanceof AppError && KEPT_ERRORS.has(error.code) && !JUDGED_APART.has(error.id);
}

/** A stored answer: the use-case's result, or the error it answered. */
export type StoredAnswer<T> = { ok: true; value: T } | { ok: false; error: AppError };

const DATE = '$date';

/** The answer as text; dates survive the round trip. */
export function answerText<T>(answer: StoredAnswer<T>): string {
  const plain = answer.ok
    ? { ok: true, value: answer.value }
    : {
        ok: false,
        error: { code: answer.error.code, id: answer.error.id, text: answer.error.text, extras: answer.error.extras },
      };
  return JSON.stringify(plain, function (this: Record<string, unknown>, key: string, value: unknown) {
    const raw = this[key];
    return raw instanceof Date ? { [DATE]: raw.toISOString() } : value;
  });
}

export function answerOf<T>(text: string): StoredAnswer<T> {
  const parsed = JSON.parse(text, (_key, value: unknown) => {
    if (value && typeof value === 'object' && !Array.isArray(value)) {
      const keys = Object.keys(value);
      if (keys.length === 1 && keys[0] === DATE) return new Date((value as Record<string, string>)[DATE]);
    }
    return value;
  }) as { ok: true; value: T } | { ok: false; error: { code: GrpcStatus; id: string; text: string; extras: object } };
  if (parsed.ok) return parsed;
  const { code, id, text: message, extras } = parsed.error;
  return { ok: false, error: new AppError(code, id, message, extras) };
}
