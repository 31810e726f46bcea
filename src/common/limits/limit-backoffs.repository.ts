import { Injectable } from '@nestjs/common';
import { SqlRepository, Tx } from '../../database/sql';

const UPSERT =
  'INSERT INTO limit_backoffs (key, sends, next_at, expires_at) VALUES ($1, $2, $3, $4) ' +
  'ON CONFLICT (key) DO UPDATE SET sends = excluded.sends, next_at = excluded.next_at, expires_at = excluded.expires_at';

/** The back-off records of the database limit store: one row per key. */
@Injectable()
export class LimitBackoffsRepository extends SqlRepository {
  /** The key's record if it still counts, read under the key's lock. */
  async lockAndFind(tx: Tx, key: string, now: number): Promise<{ sends: number; nextAt: number } | undefined> {
    const lock =
      this.db.dialect === 'postgres' ? this.db.rows(tx, 'SELECT pg_advisory_xact_lock(hashtext($1))', [key]) : null;
    const found = this.db.rows<{ sends: number | string; next_at: number | string }>(
      tx,
      'SELECT sends, next_at FROM limit_backoffs WHERE key = $1 AND expires_at > $2',
      [key, now],
    );
    const [, [row]] = await Promise.all([lock, found]);
    return row ? { sends: Number(row.sends), nextAt: Number(row.next_at) } : undefined;
  }

  async save(tx: Tx, key: string, sends: number, nextAt: number, expiresAt: number): Promise<void> {
    await this.db.execute(tx, UPSERT, [key, sends, nextAt, expiresAt]);
  }

  async remove(tx: Tx, key: string): Promise<void> {
    await this.db.execute(tx, 'DELETE FROM limit_backoffs WHERE key = $1', [key]);
  }

  /** Deletes every record whose key starts with `prefix` (LIKE's wildcards in it taken literally). */
  removeByPrefix(tx: Tx, prefix: string): Promise<number> {
    const pattern = `${prefix.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
    return this.db.execute(tx, "DELETE FROM limit_backoffs WHERE key LIKE $1 ESCAPE '\\'", [pattern]);
  }

  /** Deletes the records that count for nothing any more (expired before `now`); returns how many. */
  removeExpired(tx: Tx, now: number): Promise<number> {
    return this.db.execute(tx, 'DELETE FROM limit_backoffs WHERE expires_at <= $1', [now]);
  }
}
