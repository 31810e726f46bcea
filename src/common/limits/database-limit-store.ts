import { Injectable } from '@nestjs/common';
import { EntityManager } from 'typeorm';
import { queryRows } from '../../database/raw-sql';
import { TransactionRunner } from '../../database/transaction-runner';
import { IdGenerator } from '../ids/id-generator';
import { LimitRule, LimitStore, LimitVerdict } from './limit-store';

type Mode = 'take' | 'check' | 'record';

const PRUNE_AND_INSERT =
  'WITH pruned AS (DELETE FROM limit_hits WHERE key = $1 AND at <= $2) INSERT INTO limit_hits (id, key, at) VALUES ($3, $1, $4)';

/**
 * A sliding log in the `limit_hits` table. On PostgreSQL each key is serialised with a
 * transaction-scoped advisory lock (unless the caller's own row lock does that already), so
 * check-then-count is atomic across instances; SQLite transactions are serial already.
 */
@Injectable()
export class DatabaseLimitStore extends LimitStore {
  constructor(
    private readonly tx: TransactionRunner,
    private readonly ids: IdGenerator,
  ) {
    super();
  }

  take(rules: LimitRule[], now: Date, manager?: EntityManager): Promise<LimitVerdict> {
    return this.apply('take', rules, now, manager);
  }

  check(rules: LimitRule[], now: Date, manager?: EntityManager): Promise<LimitVerdict> {
    return this.apply('check', rules, now, manager);
  }

  async record(rules: LimitRule[], now: Date, manager?: EntityManager): Promise<void> {
    await this.apply('record', rules, now, manager);
  }

  private apply(mode: Mode, rules: LimitRule[], now: Date, manager?: EntityManager): Promise<LimitVerdict> {
    if (manager) return this.applyIn(manager, mode, rules, now);
    return this.tx.run((m) => this.applyIn(m, mode, rules, now));
  }

  private async applyIn(manager: EntityManager, mode: Mode, rules: LimitRule[], now: Date): Promise<LimitVerdict> {
    const postgres = manager.connection.options.type === 'postgres';
    if (postgres) {
      const unlocked = rules.filter((r) => !r.lockedByCaller).map((r) => r.key);
      for (const key of [...new Set(unlocked)].sort()) {
        await manager.query('SELECT pg_advisory_xact_lock(hashtext($1))', [key]);
      }
    }
    if (mode !== 'record') {
      for (const rule of rules) {
        // the limit-th newest hit in the window, if there are that many: the limit is reached, and
        // it is the hit whose leaving the window frees a place
        const [oldestCounted] = await queryRows<{ at: number | string }>(
          manager,
          'SELECT at FROM limit_hits WHERE key = $1 AND at > $2 ORDER BY at DESC LIMIT 1 OFFSET $3',
          [rule.key, now.getTime() - rule.windowMs, rule.limit - 1],
        );
        if (oldestCounted) {
          return {
            ok: false,
            rule,
            retryAfterMs: Math.max(1, Number(oldestCounted.at) + rule.windowMs - now.getTime()),
          };
        }
      }
    }
    if (mode !== 'check') {
      // hits that left their window count for nothing any more: forget them when counting a new one
      // (on PostgreSQL in the same statement, one round trip)
      for (const rule of rules) {
        const [since, id, at] = [now.getTime() - rule.windowMs, this.ids.next(), now.getTime()];
        if (postgres) {
          await queryRows(manager, PRUNE_AND_INSERT, [rule.key, since, id, at]);
        } else {
          await queryRows(manager, 'DELETE FROM limit_hits WHERE key = $1 AND at <= $2', [rule.key, since]);
          await queryRows(manager, 'INSERT INTO limit_hits (id, key, at) VALUES ($1, $2, $3)', [id, rule.key, at]);
        }
      }
    }
    return { ok: true };
  }
}
