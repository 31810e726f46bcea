export interface RetrySettings {
  /** the first pause (SMS_RETRY_BASE); each further one doubles */
  baseMs: number;
  /** the longest pause (SMS_RETRY_MAX_DELAY) */
  maxDelayMs: number;
  /** an optional cap on attempts (SMS_MAX_ATTEMPTS); unset, the message's life alone decides */
  maxAttempts?: number;
}

/**
 * When to try a message again after its `attempts`-th attempt failed at `failedAt`, or undefined
 * to give up. Pauses grow exponentially with jitter (drawn from the upper half of
 * base·2^(n-1), capped at maxDelayMs), so attempts go on for the message's whole life: an outage
 * shorter than that loses nothing. The last attempt comes one base pause before `giveUpAt`
 * (the code's expiry or SMS_MAX_AGE), so the code still works when it arrives.
 */
export function nextAttemptAt(
  failedAt: number,
  attempts: number,
  giveUpAt: number,
  settings: RetrySettings,
  random: () => number = Math.random,
): number | undefined {
  if (settings.maxAttempts !== undefined && attempts >= settings.maxAttempts) return undefined;
  const ceiling = Math.min(settings.maxDelayMs, settings.baseMs * 2 ** Math.max(0, attempts - 1));
  const delay = Math.round(ceiling / 2 + random() * (ceiling / 2));
  const next = Math.min(failedAt + delay, giveUpAt - settings.baseMs);
  return next > failedAt ? next : undefined;
}
