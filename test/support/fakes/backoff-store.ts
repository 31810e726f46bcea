import { BACKOFF_QUIET_MS, BackoffStore, BackoffVerdict } from '../../../src/common/limits/backoff-store';

/**
 * The back-off records in memory, with the database store's arithmetic: a record counts until
 * BACKOFF_QUIET_MS after its wait ends. `failWith` makes every call reject.
 */
export class InMemoryBackoffStore implements BackoffStore {
  readonly records = new Map<string, { sends: number; nextAt: number }>();
  failWith?: Error;

  async check(key: string, now: Date): Promise<BackoffVerdict> {
    this.failIfDown();
    const found = this.records.get(key);
    if (!found || found.nextAt + BACKOFF_QUIET_MS <= now.getTime()) return { ok: true, sends: 0 };
    if (found.nextAt > now.getTime()) return { ok: false, retryAfterMs: found.nextAt - now.getTime() };
    return { ok: true, sends: found.sends };
  }

  async record(key: string, sends: number, waitMs: number, now: Date): Promise<void> {
    this.failIfDown();
    this.records.set(key, { sends, nextAt: now.getTime() + waitMs });
  }

  async reset(key: string): Promise<void> {
    this.failIfDown();
    this.records.delete(key);
  }

  async clear(keyPrefix: string): Promise<number> {
    this.failIfDown();
    const keys = [...this.records.keys()].filter((key) => key.startsWith(keyPrefix));
    for (const key of keys) this.records.delete(key);
    return keys.length;
  }

  private failIfDown(): void {
    if (this.failWith) throw this.failWith;
  }
}
