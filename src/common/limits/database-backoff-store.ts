import { Injectable } from '@nestjs/common';
import { Database, Tx } from '../../database/sql';
import { BACKOFF_QUIET_MS, BackoffStore, BackoffVerdict } from './backoff-store';
import { LimitBackoffsRepository } from './limit-backoffs.repository';

/**
 * One row per key in `limit_backoffs`, in the caller's transaction: `check` takes the key's lock
 * (PostgreSQL), so check-then-record is atomic across instances.
 */
@Injectable()
export class DatabaseBackoffStore extends BackoffStore {
  constructor(
    private readonly db: Database,
    private readonly backoffs: LimitBackoffsRepository,
  ) {
    super();
  }

  async check(key: string, now: Date, tx?: Tx): Promise<BackoffVerdict> {
    const found = await this.within(tx, (own) => this.backoffs.lockAndFind(own, key, now.getTime()));
    if (!found) return { ok: true, sends: 0 };
    if (found.nextAt > now.getTime()) return { ok: false, retryAfterMs: found.nextAt - now.getTime() };
    return { ok: true, sends: found.sends };
  }

  record(key: string, sends: number, waitMs: number, now: Date, tx?: Tx): Promise<void> {
    const nextAt = now.getTime() + waitMs;
    return this.within(tx, (own) => this.backoffs.save(own, key, sends, nextAt, nextAt + BACKOFF_QUIET_MS));
  }

  reset(key: string, tx?: Tx): Promise<void> {
    return this.within(tx, (own) => this.backoffs.remove(own, key));
  }

  clear(keyPrefix: string): Promise<number> {
    return this.db.transaction((own) => this.backoffs.removeByPrefix(own, keyPrefix));
  }

  private within<T>(tx: Tx | undefined, work: (tx: Tx) => Promise<T>): Promise<T> {
    return tx ? work(tx) : this.db.transaction(work);
  }
}
