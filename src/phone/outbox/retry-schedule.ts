export interface RetrySettings {
  /** the first pause (SMS_RETRY_BASE); each further one doubles */
  baseMs: number;
  /** the longest pause (SMS_RETRY_MAX_DELAY) */
  maxDelayMs: number;
  /** an optional cap on attempts (SMS_MAX_ATTEMPTS); unset, the message's life alone decides */
  maxAttempts?: number;
}

/**
 * The next attempt, or undefined to give up: exponential pauses with jitter for the message's whole
 * life, the last one base pause before `giveUpAt`, so the code still works when it arrives.
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
