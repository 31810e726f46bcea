import { Injectable } from '@nestjs/common';
import { SqlRepository, Tx } from '../../database/sql';
import { Micros } from './money';

/** An amount to add to one counter's day (negative: a receipt's price below the estimate). */
export interface SpendIncrement {
  key: string;
  day: number;
  micros: Micros;
}

/** A counter's spend today and this month. */
export interface SpendSums {
  day: Micros;
  month: Micros;
}

/** The spend counters by UTC day (see SmsSpendCountEntity). */
@Injectable()
export class SmsSpendCountsRepository extends SqlRepository {
  /** Today's and this month's sums of `keys` (undefined tx: all keys, for the metrics). */
  async sums(tx: Tx | undefined, keys: string[] | undefined, monthStart: number, dayStart: number) {
    const params: unknown[] = [dayStart, monthStart, ...(keys ?? [])];
    const only = keys ? ` AND key IN (${keys.map((_, i) => `$${i + 3}`).join(', ')})` : '';
    const rows = await this.db.rows<{ key: string; today: string | number | null; month: string | number | null }>(
      tx,
      'SELECT key, SUM(CASE WHEN day >= $1 THEN micros ELSE 0 END) AS today, SUM(micros) AS month ' +
        `FROM sms_spend_counts WHERE day >= $2${only} GROUP BY key`,
      params,
    );
    return new Map<string, SpendSums>(
      rows.map((r) => [r.key, { day: Number(r.today ?? 0), month: Number(r.month ?? 0) }]),
    );
  }

  /** Adds in one statement, rows taken in key order (concurrent transactions lock them alike). */
  async add(tx: Tx, increments: SpendIncrement[]): Promise<void> {
    if (increments.length === 0) return;
    const sorted = [...increments].sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : a.day - b.day));
    const params: unknown[] = [];
    const values = sorted.map((inc) => {
      params.push(inc.key, inc.day, inc.micros);
      const n = params.length;
      return `($${n - 2}, $${n - 1}, $${n})`;
    });
    await this.db.execute(
      tx,
      `INSERT INTO sms_spend_counts (key, day, micros) VALUES ${values.join(', ')} ` +
        'ON CONFLICT (key, day) DO UPDATE SET micros = sms_spend_counts.micros + excluded.micros',
      params,
    );
  }

  /** Forgets the days before `before`. */
  prune(tx: Tx, before: number): Promise<number> {
    return this.db.execute(tx, 'DELETE FROM sms_spend_counts WHERE day < $1', [before]);
  }
}
