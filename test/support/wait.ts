import type { ChildProcess } from 'node:child_process';

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/**
 * Polls `check` every `everyMs` until it returns a truthy value other than [] and returns that
 * value; fails naming `what` after `timeoutMs`. An error thrown by `check` fails at once: a check
 * that may throw while a server comes up says so with `.catch(() => false)`.
 */
export async function until<T>(
  what: string,
  check: () => T | Promise<T>,
  timeoutMs = 5_000,
  everyMs = 20,
): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value && !(Array.isArray(value) && value.length === 0)) return value as NonNullable<T>;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(everyMs);
  }
}

/** Resolves once the process has exited (at once if it already has). */
export function exited(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => child.once('exit', () => resolve()));
}

/** `check` for `until` where an error means "not yet" (a server still starting, a failover under way). */
export function orNotYet<T>(check: () => T | Promise<T>): () => Promise<T | false> {
  return async () => {
    try {
      return await check();
    } catch {
      return false;
    }
  };
}
