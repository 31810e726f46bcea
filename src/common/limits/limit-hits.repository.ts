import { Injectable } from '@nestjs/common';
import { SqlRepository, Tx } from '../../database/sql';

const PRUNE_AND_INSERT =
  'WITH pruned AS (DELETE FROM limit_hits WHERE key = $1 AND at <= $2) INSERT INTO limit_hits (id, key, at) VALUES ($3, $1, $4)';

/** The sliding logs of the database limit store: one row per counted hit of a key. */
@Injectable()
export class LimitHitsRepository extends SqlRepository {
  /**
   * Serialises the keys' uses across instances until the transaction ends (PostgreSQL's
   * transaction-scoped advisory locks, taken in a fixed order; SQLite transactions are serial).
   */
  async lock(tx: Tx, keys: string[]): Promise<void> {
    if (this.db.dialect !== 'postgres' || keys.length === 0) return;
    for (const key of [...new Set(keys)].sort()) {
      await this.db.rows(tx, 'SELECT pg_advisory_xact_lock(hashtext($1))', [key]);
    }
  }

  /** The time of the `offset`-th newest hit of `key` after `since` (0 = the newest), if there are that many. */
  async nthNewestSince(tx: Tx, key: string, since: number, offset: number): Promise<number | undefined> {
    const [row] = await this.db.rows<{ at: number | string }>(
      tx,
      'SELECT at FROM limit_hits WHERE key = $1 AND at > $2 ORDER BY at DESC LIMIT 1 OFFSET $3',
      [key, since, offset],
    );
    return row ? Number(row.at) : undefined;
  }

  /** Deletes up to `limit` hits at or before `until` (they count in no window any more); returns how many. */
  removeUntil(tx: Tx, until: number, limit: number): Promise<number> {
    return this.db.execute(
      tx,
      'DELETE FROM limit_hits WHERE id IN (SELECT id FROM limit_hits WHERE at <= $1 LIMIT $2)',
      [until, limit],
    );
  }

  /** How many hits of `key` lie after `since`. */
  async countSince(tx: Tx, key: string, since: number): Promise<number> {
    const [row] = await this.db.rows<{ n: number | string }>(
      tx,
      'SELECT COUNT(*) AS n FROM limit_hits WHERE key = $1 AND at > $2',
      [key, since],
    );
    return Number(row?.n ?? 0);
  }

  /**
   * Counts a hit of `key` at `at` and forgets its hits at or before `pruneUntil`, which count for
   * nothing any more (on PostgreSQL in one statement).
   */
  async add(tx: Tx, id: string, key: string, at: number, pruneUntil: number): Promise<void> {
    if (this.db.dialect === 'postgres') {
      await this.db.execute(tx, PRUNE_AND_INSERT, [key, pruneUntil, id, at]);
      return;
    }
    await this.db.execute(tx, 'DELETE FROM limit_hits WHERE key = $1 AND at <= $2', [key, pruneUntil]);
    await this.db.execute(tx, 'INSERT INTO limit_hits (id, key, at) VALUES ($1, $2, $3)', [id, key, at]);
  }
}
