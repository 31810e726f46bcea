import { Injectable } from '@nestjs/common';
import { SqlRepository, Tx } from '../../database/sql';
import { Bucket } from './sms-fraud-store';

export interface CountRow extends Bucket {
  key: string;
}

/** Increments of one counter hour. */
export interface Increment {
  key: string;
  hour: number;
  sent: number;
  verified: number;
}

const escapeLike = (text: string) => text.replace(/[\\%_]/g, (c) => `\\${c}`);

/** The pumping guard's counters and remembered numbers (see SmsFraudCountEntity). */
@Injectable()
export class SmsFraudCountsRepository extends SqlRepository {
  /** The hours since `since` of `keys`, and of every key that starts with `keyPrefix`. */
  async rows(tx: Tx | undefined, keys: string[], keyPrefix: string | undefined, since: number): Promise<CountRow[]> {
    // parameters in order, each once (SQLite numbers them by position)
    const params: unknown[] = [since, ...keys];
    const list = keys.map((_, i) => `$${i + 2}`).join(', ');
    let sql = `SELECT key, hour, sent, verified FROM sms_fraud_counts WHERE hour >= $1 AND key IN (${list})`;
    if (keyPrefix !== undefined) {
      params.push(since, `${escapeLike(keyPrefix)}%`);
      sql +=
        ' UNION ALL SELECT key, hour, sent, verified FROM sms_fraud_counts ' +
        `WHERE hour >= $${params.length - 1} AND key LIKE $${params.length} ESCAPE '\\'`;
    }
    const rows = await this.db.rows<{
      key: string;
      hour: string | number;
      sent: string | number;
      verified: string | number;
    }>(tx, sql, params);
    return rows.map((r) => ({ key: r.key, hour: Number(r.hour), sent: Number(r.sent), verified: Number(r.verified) }));
  }

  async isVerified(tx: Tx | undefined, numberHash: string, since: number): Promise<boolean> {
    const rows = await this.db.rows(
      tx,
      'SELECT 1 AS found FROM sms_verified_numbers WHERE number_hash = $1 AND verified_at >= $2',
      [numberHash, since],
    );
    return rows.length > 0;
  }

  /**
   * Adds to the counters in one statement; the rows are taken in key order, so that concurrent
   * transactions lock them in the same order (PostgreSQL holds each until COMMIT).
   */
  async add(tx: Tx, increments: Increment[]): Promise<void> {
    if (increments.length === 0) return;
    const sorted = [...increments].sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : a.hour - b.hour));
    const params: unknown[] = [];
    const values = sorted.map((inc) => {
      params.push(inc.key, inc.hour, inc.sent, inc.verified);
      const n = params.length;
      return `($${n - 3}, $${n - 2}, $${n - 1}, $${n})`;
    });
    await this.db.execute(
      tx,
      `INSERT INTO sms_fraud_counts (key, hour, sent, verified) VALUES ${values.join(', ')} ` +
        'ON CONFLICT (key, hour) DO UPDATE SET sent = sms_fraud_counts.sent + excluded.sent, ' +
        'verified = sms_fraud_counts.verified + excluded.verified',
      params,
    );
  }

  async rememberVerified(tx: Tx, numberHash: string, at: number): Promise<void> {
    await this.db.execute(
      tx,
      'INSERT INTO sms_verified_numbers (number_hash, verified_at) VALUES ($1, $2) ' +
        'ON CONFLICT (number_hash) DO UPDATE SET verified_at = excluded.verified_at',
      [numberHash, at],
    );
  }

  /** Forgets counter hours before `countsBefore` and numbers verified before `numbersBefore`; returns how many of each. */
  async prune(tx: Tx, countsBefore: number, numbersBefore: number): Promise<{ counts: number; numbers: number }> {
    const [counts, numbers] = await Promise.all([
      this.db.execute(tx, 'DELETE FROM sms_fraud_counts WHERE hour < $1', [countsBefore]),
      this.db.execute(tx, 'DELETE FROM sms_verified_numbers WHERE verified_at < $1', [numbersBefore]),
    ]);
    return { counts, numbers };
  }
}
