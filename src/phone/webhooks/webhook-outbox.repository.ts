import { Injectable } from '@nestjs/common';
import { SqlRepository, Tx } from '../../database/sql';
import { WebhookOutboxEntity } from './webhook-outbox.entity';

/** The webhook outbox's persistence. Claims are leases, as the SMS outbox's (ADR 0014, 0024). */
@Injectable()
export class WebhookOutboxRepository extends SqlRepository {
  async enqueue(tx: Tx, rows: WebhookOutboxEntity[]): Promise<void> {
    await Promise.all(rows.map((row) => this.db.insert(tx, WebhookOutboxEntity, row)));
  }

  /**
   * Takes up to `limit` due rows and leases them, counting the attempt now. A row waits while an
   * earlier row of its user for the same endpoint is pending (due later, or in flight): a user's
   * events reach each endpoint in order. PostgreSQL skips rows other instances are claiming.
   */
  async claimDue(tx: Tx, now: Date, leaseMs: number, limit: number): Promise<WebhookOutboxEntity[]> {
    const due =
      'SELECT w.id FROM webhook_outbox w WHERE w.status = $3 AND w.next_attempt_at <= $4 ' +
      'AND (w.locked_until IS NULL OR w.locked_until <= $5) AND NOT EXISTS (SELECT 1 FROM webhook_outbox e ' +
      'WHERE e.user_id = w.user_id AND e.endpoint = w.endpoint AND e.status = $6 AND e.sequence < w.sequence) ' +
      'ORDER BY w.next_attempt_at ASC LIMIT $7';
    const claim = 'UPDATE webhook_outbox SET locked_until = $1, attempts = attempts + 1';
    const returning = `RETURNING ${this.db.columns(WebhookOutboxEntity, 'webhook_outbox')}`;
    const sql =
      this.db.dialect === 'postgres'
        ? `WITH due AS (${due} FOR UPDATE OF w SKIP LOCKED) ${claim} FROM due ` +
          `WHERE webhook_outbox.id = due.id AND webhook_outbox.status = $2 ${returning}`
        : `${claim} WHERE status = $2 AND id IN (${due}) ${returning}`;
    const t = now.getTime();
    const rows = await this.db.rows<Record<string, unknown>>(tx, sql, [
      t + leaseMs,
      'pending',
      'pending',
      t,
      t,
      'pending',
      limit,
    ]);
    return rows.map((row) => this.db.hydrate(WebhookOutboxEntity, row, 'webhook_outbox'));
  }

  /** Delivered or given up; only the lease holder may finish a row. */
  finish(tx: Tx, row: WebhookOutboxEntity, status: 'delivered' | 'failed', at: Date, lastError: string | null) {
    return this.updateLeased(tx, row, {
      status,
      finishedAt: at,
      lockedUntil: null,
      lastError: lastError?.slice(0, 500) ?? null,
    });
  }

  retryLater(tx: Tx, row: WebhookOutboxEntity, next: Date, lastError: string): Promise<boolean> {
    return this.updateLeased(tx, row, { nextAttemptAt: next, lockedUntil: null, lastError: lastError.slice(0, 500) });
  }

  /** Deletes up to `limit` rows that ended before `endedBefore`; returns how many. */
  removeEnded(tx: Tx, endedBefore: Date, limit: number): Promise<number> {
    return this.db.execute(
      tx,
      'DELETE FROM webhook_outbox WHERE id IN (SELECT id FROM webhook_outbox WHERE finished_at < $1 LIMIT $2)',
      [endedBefore.getTime(), limit],
    );
  }

  /** For the metrics: rows waiting, and the earliest time one of them was due by `now`. */
  async backlog(now: Date): Promise<{ depth: number; oldestDueAt: Date | null }> {
    const [row] = await this.db.rows<{ depth: string | number; oldest: string | number | null }>(
      undefined,
      'SELECT COUNT(*) AS depth, MIN(CASE WHEN next_attempt_at <= $1 THEN next_attempt_at END) AS oldest ' +
        'FROM webhook_outbox WHERE status = $2',
      [now.getTime(), 'pending'],
    );
    const oldest = row?.oldest ?? null;
    return { depth: Number(row?.depth ?? 0), oldestDueAt: oldest === null ? null : new Date(Number(oldest)) };
  }

  private async updateLeased(tx: Tx, row: WebhookOutboxEntity, fields: Partial<WebhookOutboxEntity>): Promise<boolean> {
    const { sets, params } = this.db.assignments(WebhookOutboxEntity, fields);
    const where = [`id = $${params.push(row.id)}`, `status = $${params.push('pending')}`];
    where.push(row.lockedUntil ? `locked_until = $${params.push(row.lockedUntil.getTime())}` : 'locked_until IS NULL');
    const changed = await this.db.execute(
      tx,
      `UPDATE webhook_outbox SET ${sets.join(', ')} WHERE ${where.join(' AND ')}`,
      params,
    );
    return changed > 0;
  }
}
