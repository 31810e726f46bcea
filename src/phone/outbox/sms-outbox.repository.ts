import { Injectable } from '@nestjs/common';
import { SqlRepository, Tx } from '../../database/sql';
import { SmsOutboxEntity } from './sms-outbox.entity';
import { SmsReceiptEntity } from './sms-receipt.entity';

/** The outbox's persistence. Claims are leases: a row is owned by one worker until `lockedUntil`. */
@Injectable()
export class SmsOutboxRepository extends SqlRepository {
  async enqueue(tx: Tx, row: SmsOutboxEntity): Promise<void> {
    // a newer code supersedes whatever of this user's is still waiting; a message in flight is left to
    // its worker, which records what happened to it (a retry is skipped, the code being no longer current)
    const { sets, params } = this.db.assignments(SmsOutboxEntity, {
      status: 'skipped',
      sealedCode: null,
      finishedAt: row.createdAt,
      lastError: 'superseded',
    });
    const where = [
      `user_id = $${params.push(row.userId)}`,
      `status = $${params.push('pending')}`,
      `(locked_until IS NULL OR locked_until <= $${params.push(row.createdAt.getTime())})`,
    ];
    await Promise.all([
      this.db.execute(tx, `UPDATE sms_outbox SET ${sets.join(', ')} WHERE ${where.join(' AND ')}`, params),
      this.db.insert(tx, SmsOutboxEntity, row),
    ]);
  }

  /**
   * Takes up to `limit` due rows and leases them; counts the attempt now, so a crash mid-send
   * still counts. PostgreSQL skips rows other instances are claiming (FOR UPDATE SKIP LOCKED).
   */
  async claimDue(tx: Tx, now: Date, leaseMs: number, limit: number): Promise<SmsOutboxEntity[]> {
    const due =
      'SELECT id FROM sms_outbox WHERE status = $3 AND next_attempt_at <= $4 ' +
      'AND (locked_until IS NULL OR locked_until <= $5) ORDER BY next_attempt_at ASC LIMIT $6';
    const claim = 'UPDATE sms_outbox SET locked_until = $1, attempts = attempts + 1';
    const returning = `RETURNING ${this.db.columns(SmsOutboxEntity, 'sms_outbox')}`;
    // On PostgreSQL the due rows are picked in a CTE, which runs once: as `id IN (subquery)` the
    // planner may run the subquery again, and LIMIT would then no longer bound what is claimed
    const sql =
      this.db.dialect === 'postgres'
        ? `WITH due AS (${due} FOR UPDATE SKIP LOCKED) ${claim} FROM due ` +
          `WHERE sms_outbox.id = due.id AND sms_outbox.status = $2 ${returning}`
        : `${claim} WHERE status = $2 AND id IN (${due}) ${returning}`;
    const rows = await this.db.rows<Record<string, unknown>>(tx, sql, [
      now.getTime() + leaseMs,
      'pending',
      'pending',
      now.getTime(),
      now.getTime(),
      limit,
    ]);
    return rows.map((row) => this.db.hydrate(SmsOutboxEntity, row, 'sms_outbox'));
  }

  /**
   * Final states erase the sealed code, unless `keepSealed` (accepted, and a receipt may still
   * send it through another provider). Only the lease holder may finish a row. An accepted
   * message starts its receipt history afresh, under the id its provider gave it.
   */
  async finish(
    tx: Tx,
    row: SmsOutboxEntity,
    status: 'delivered' | 'failed' | 'skipped',
    at: Date,
    details: {
      provider?: string;
      lastError?: string;
      providerMessageId?: string;
      keepSealed?: boolean;
      stepDueAt?: Date | null;
    },
  ): Promise<boolean> {
    const fields: Partial<SmsOutboxEntity> = {
      status,
      finishedAt: at,
      lockedUntil: null,
      provider: details.provider ?? null,
      lastError: details.lastError?.slice(0, 500) ?? null,
      stepDueAt: details.stepDueAt ?? null,
    };
    if (!details.keepSealed) fields.sealedCode = null;
    if (status === 'delivered') {
      Object.assign(fields, {
        providerMessageId: details.providerMessageId ?? null,
        deliveryStatus: null,
        deliveryError: null,
        deliveryStatusAt: null,
      });
    }
    return this.updateLeased(tx, row, fields);
  }

  /** Moves a row this worker leased to its next channel step (ChannelSteps.move); false when the lease was lost. */
  nextStep(tx: Tx, row: SmsOutboxEntity, fields: Partial<SmsOutboxEntity>): Promise<boolean> {
    return this.updateLeased(tx, row, fields);
  }

  /**
   * Up to `limit` accepted messages whose step timed out (no delivered receipt) with their code
   * still sealed for a next step. Only rows due after `dueSince` (a range of the due index).
   */
  async timedOutSteps(now: Date, dueSince: Date, limit: number): Promise<SmsOutboxEntity[]> {
    return this.db.select(
      undefined,
      SmsOutboxEntity,
      'status = $1 AND next_attempt_at > $2 AND step_due_at <= $3 AND sealed_code IS NOT NULL AND ' +
        '(delivery_status IS NULL OR delivery_status <> $4)',
      ['delivered', dueSince.getTime(), now.getTime(), 'delivered'],
      ` LIMIT ${Math.trunc(limit)}`,
    );
  }

  /** Keeps a receipt until it is applied; a duplicate (same provider, message and status) adds nothing. */
  async recordReceipt(tx: Tx, receipt: SmsReceiptEntity): Promise<void> {
    await this.db.insert(tx, SmsReceiptEntity, receipt, ' ON CONFLICT DO NOTHING');
  }

  /**
   * Takes the receipts waiting for the provider's message: deleted and returned in one statement,
   * so a receipt written meanwhile is either among them or left for the next look.
   */
  async takeReceipts(tx: Tx, provider: string, providerMessageId: string): Promise<SmsReceiptEntity[]> {
    const rows = await this.db.rows<Record<string, unknown>>(
      tx,
      'DELETE FROM sms_receipts WHERE provider = $1 AND provider_message_id = $2 ' +
        `RETURNING ${this.db.columnList(SmsReceiptEntity)}`,
      [provider, providerMessageId],
    );
    return rows.map((row) => this.db.hydrate(SmsReceiptEntity, row));
  }

  /** Messages with receipts waiting although their row names them (an apply that failed midway): a few of them. */
  async messagesWithWaitingReceipts(limit: number): Promise<Array<{ provider: string; providerMessageId: string }>> {
    const rows = await this.db.rows<{ provider: string; provider_message_id: string }>(
      undefined,
      'SELECT DISTINCT r.provider, r.provider_message_id FROM sms_receipts r JOIN sms_outbox o ' +
        'ON o.provider = r.provider AND o.provider_message_id = r.provider_message_id LIMIT $1',
      [limit],
    );
    return rows.map((row) => ({ provider: row.provider, providerMessageId: row.provider_message_id }));
  }

  /** The row a provider's message id names (the index on provider and provider_message_id). */
  async findByProviderMessage(
    tx: Tx | undefined,
    provider: string,
    providerMessageId: string,
  ): Promise<SmsOutboxEntity | undefined> {
    const [row] = await this.db.select(tx, SmsOutboxEntity, 'provider = $1 AND provider_message_id = $2', [
      provider,
      providerMessageId,
    ]);
    return row;
  }

  /** The row, locked until the transaction ends on PostgreSQL (SQLite transactions are serial). */
  async findForUpdate(tx: Tx, id: string): Promise<SmsOutboxEntity | undefined> {
    const lock = this.db.dialect === 'postgres' ? ' FOR UPDATE' : '';
    const [row] = await this.db.select(tx, SmsOutboxEntity, 'id = $1', [id], lock);
    return row;
  }

  /** A receipt's outcome on a row the caller locked. */
  async update(tx: Tx, id: string, fields: Partial<SmsOutboxEntity>): Promise<void> {
    await this.db.updateById(tx, SmsOutboxEntity, id, fields);
  }

  /**
   * Erases the sealed codes kept for a retry that can no longer happen; returns how many. Only rows
   * due after `dueSince` (a range of the due index): a scan of every delivered row would grow.
   */
  async eraseDeadCodes(now: Date, dueSince: Date, receiptsBefore: Date): Promise<number> {
    const [erased] = await Promise.all([
      this.db.execute(
        undefined,
        'UPDATE sms_outbox SET sealed_code = NULL WHERE status = $1 AND next_attempt_at > $2 AND ' +
          'sealed_code IS NOT NULL AND (give_up_at <= $3 OR NOT EXISTS (SELECT 1 FROM phone_codes c ' +
          'WHERE c.id = sms_outbox.code_id AND c.consumed_at IS NULL AND c.expires_at > $4))',
        ['delivered', dueSince.getTime(), now.getTime(), now.getTime()],
      ),
      this.db.execute(undefined, 'DELETE FROM sms_receipts WHERE received_at < $1', [receiptsBefore.getTime()]),
    ]);
    return erased;
  }

  /**
   * Deletes up to `limit` messages that ended (delivered, failed, skipped) before `endedBefore` and
   * that no receipt can send again any more (their life ran out); returns how many.
   */
  removeEnded(tx: Tx, endedBefore: Date, now: Date, limit: number): Promise<number> {
    return this.db.execute(
      tx,
      'DELETE FROM sms_outbox WHERE id IN (SELECT id FROM sms_outbox WHERE finished_at < $1 AND status <> $2 ' +
        'AND give_up_at <= $3 LIMIT $4)',
      [endedBefore.getTime(), 'pending', now.getTime(), limit],
    );
  }

  /** Deletes the receipts that waited since before `before` for a message that never came; returns how many. */
  removeReceiptsBefore(tx: Tx, before: Date): Promise<number> {
    return this.db.execute(tx, 'DELETE FROM sms_receipts WHERE received_at < $1', [before.getTime()]);
  }

  /**
   * For the metrics: messages waiting (pending, due or not, in flight included), by channel (an old
   * release's rows: sms), and the earliest time one of them was due by `now`. One read of the index
   * the claims use, outside a transaction.
   */
  async backlog(now: Date): Promise<{ depth: number; oldestDueAt: Date | null; byChannel: Map<string, number> }> {
    const rows = await this.db.rows<{ channel: string | null; depth: string | number; oldest: string | number | null }>(
      undefined,
      'SELECT channel, COUNT(*) AS depth, MIN(CASE WHEN next_attempt_at <= $1 THEN next_attempt_at END) AS oldest ' +
        'FROM sms_outbox WHERE status = $2 GROUP BY channel',
      [now.getTime(), 'pending'],
    );
    const byChannel = new Map<string, number>();
    let oldest: number | null = null;
    for (const row of rows) {
      const channel = row.channel ?? 'sms';
      byChannel.set(channel, (byChannel.get(channel) ?? 0) + Number(row.depth));
      if (row.oldest !== null && (oldest === null || Number(row.oldest) < oldest)) oldest = Number(row.oldest);
    }
    const depth = [...byChannel.values()].reduce((sum, n) => sum + n, 0);
    return { depth, oldestDueAt: oldest === null ? null : new Date(oldest), byChannel };
  }

  async retryLater(tx: Tx, row: SmsOutboxEntity, next: Date, lastError: string): Promise<void> {
    await this.updateLeased(tx, row, { nextAttemptAt: next, lockedUntil: null, lastError: lastError.slice(0, 500) });
  }

  /** Changes a pending row only while the lease `row` was claimed with is still its own. */
  private async updateLeased(tx: Tx, row: SmsOutboxEntity, fields: Partial<SmsOutboxEntity>): Promise<boolean> {
    const { sets, params } = this.db.assignments(SmsOutboxEntity, fields);
    // (push returns the new length: the number of the parameter just added)
    const where = [`id = $${params.push(row.id)}`, `status = $${params.push('pending')}`];
    where.push(row.lockedUntil ? `locked_until = $${params.push(row.lockedUntil.getTime())}` : 'locked_until IS NULL');
    const changed = await this.db.execute(
      tx,
      `UPDATE sms_outbox SET ${sets.join(', ')} WHERE ${where.join(' AND ')}`,
      params,
    );
    return changed > 0;
  }
}
