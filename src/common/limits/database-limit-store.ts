import { Injectable } from '@nestjs/common';
import { Database, Tx } from '../../database/sql';
import { IdGenerator } from '../ids/id-generator';
import { LimitHitsRepository } from './limit-hits.repository';
import { LimitRule, LimitStore, LimitVerdict } from './limit-store';

type Mode = 'take' | 'check' | 'record';

/**
 * A sliding log per key in the `limit_hits` table, counted in the caller's transaction. Shared
 * keys are serialised across instances with a lock per key, so check-then-count is atomic.
 * Per-user keys (`scope: 'user'`) take no lock of their own: every transaction that uses one
 * changes that user and holds the user's row lock (or creates the user) until it ends, which
 * orders them already.
 */
@Injectable()
export class DatabaseLimitStore extends LimitStore {
  constructor(
    private readonly db: Database,
    private readonly hits: LimitHitsRepository,
    private readonly ids: IdGenerator,
  ) {
    super();
  }

  take(rules: LimitRule[], now: Date, tx?: Tx): Promise<LimitVerdict> {
    return this.apply('take', rules, now, tx);
  }

  check(rules: LimitRule[], now: Date, tx?: Tx): Promise<LimitVerdict> {
    return this.apply('check', rules, now, tx);
  }

  async record(rules: LimitRule[], now: Date, tx?: Tx): Promise<void> {
    await this.apply('record', rules, now, tx);
  }

  hitsWithin(key: string, windowMs: number, now: Date, tx?: Tx): Promise<number> {
    const since = now.getTime() - windowMs;
    if (tx) return this.hits.countSince(tx, key, since);
    return this.db.transaction((own) => this.hits.countSince(own, key, since));
  }

  private apply(mode: Mode, rules: LimitRule[], now: Date, tx?: Tx): Promise<LimitVerdict> {
    if (tx) return this.applyIn(tx, mode, rules, now);
    return this.db.transaction((own) => this.applyIn(own, mode, rules, now));
  }

  private async applyIn(tx: Tx, mode: Mode, rules: LimitRule[], now: Date): Promise<LimitVerdict> {
    // per-user keys alone (a check of the daily failures, say) take no lock: no statement, no await
    if (rules.some((rule) => rule.scope !== 'user')) {
      await this.hits.lock(
        tx,
        rules.filter((rule) => rule.scope !== 'user').map((rule) => rule.key),
      );
    }
    if (mode !== 'record') {
      for (const rule of rules) {
        // the limit-th newest hit in the window, if there are that many: the limit is reached, and
        // it is the hit whose leaving the window frees a place
        const oldestCounted = await this.hits.nthNewestSince(
          tx,
          rule.key,
          now.getTime() - rule.windowMs,
          rule.limit - 1,
        );
        if (oldestCounted !== undefined) {
          return { ok: false, rule, retryAfterMs: Math.max(1, oldestCounted + rule.windowMs - now.getTime()) };
        }
      }
    }
    if (mode !== 'check') {
      // hits that left their window count for nothing any more: forgotten when a new one is counted
      for (const rule of rules) {
        await this.hits.add(tx, this.ids.next(), rule.key, now.getTime(), now.getTime() - rule.windowMs);
      }
    }
    return { ok: true };
  }
}
