import { Injectable } from '@nestjs/common';
import { EntityManager, In, IsNull } from 'typeorm';
import { TransactionRunner } from '../../database/transaction-runner';
import { SmsOutboxEntity } from './sms-outbox.entity';

/** The outbox's persistence. Claims are leases: a row is owned by one worker until `lockedUntil`. */
@Injectable()
export class SmsOutboxRepository {
  constructor(private readonly tx: TransactionRunner) {}

  async enqueue(manager: EntityManager, row: SmsOutboxEntity): Promise<void> {
    // a newer code supersedes whatever of this user's is still waiting; a message in flight is left to
    // its worker, which records what happened to it (a retry is skipped, the code being no longer current)
    await manager
      .createQueryBuilder()
      .update(SmsOutboxEntity)
      .set({ status: 'skipped', sealedCode: null, finishedAt: row.createdAt, lastError: 'superseded' })
      .where('user_id = :userId AND status = :pending', { userId: row.userId, pending: 'pending' })
      .andWhere('(locked_until IS NULL OR locked_until <= :now)', { now: row.createdAt.getTime() })
      .execute();
    await manager.insert(SmsOutboxEntity, row);
  }

  /**
   * Takes up to `limit` due rows and leases them; counts the attempt now, so a crash mid-send
   * still counts. PostgreSQL skips rows other instances are claiming (FOR UPDATE SKIP LOCKED).
   */
  claimDue(now: Date, leaseMs: number, limit: number): Promise<SmsOutboxEntity[]> {
    return this.tx.run(async (manager) => {
      const due = manager
        .createQueryBuilder(SmsOutboxEntity, 'o')
        .select('o.id')
        .where('o.status = :pending', { pending: 'pending' })
        .andWhere('o.next_attempt_at <= :now', { now: now.getTime() })
        .andWhere('(o.locked_until IS NULL OR o.locked_until <= :now)', { now: now.getTime() })
        .orderBy('o.next_attempt_at', 'ASC')
        .limit(limit);
      if (this.tx.isPostgres) due.setLock('pessimistic_write').setOnLocked('skip_locked');
      const ids = (await due.getMany()).map((row) => row.id);
      if (ids.length === 0) return [];
      await manager.update(
        SmsOutboxEntity,
        { id: In(ids), status: 'pending' },
        { lockedUntil: new Date(now.getTime() + leaseMs), attempts: () => 'attempts + 1' },
      );
      return manager.find(SmsOutboxEntity, { where: { id: In(ids) } });
    });
  }

  /** Final states erase the sealed code. Only the lease holder may finish a row. */
  async finish(
    manager: EntityManager,
    row: SmsOutboxEntity,
    status: 'delivered' | 'failed' | 'skipped',
    at: Date,
    details: { provider?: string; lastError?: string },
  ): Promise<boolean> {
    const result = await manager.update(
      SmsOutboxEntity,
      { id: row.id, status: 'pending', lockedUntil: row.lockedUntil ?? IsNull() },
      {
        status,
        sealedCode: null,
        finishedAt: at,
        lockedUntil: null,
        provider: details.provider ?? null,
        lastError: details.lastError?.slice(0, 500) ?? null,
      },
    );
    return Boolean(result.affected);
  }

  /**
   * For the metrics: messages waiting (pending, due or not, in flight included) and the earliest
   * time one of them was due by `now`. One read of the index the claims use.
   */
  backlog(now: Date): Promise<{ depth: number; oldestDueAt: Date | null }> {
    return this.tx.run(async (manager) => {
      const row = await manager
        .createQueryBuilder(SmsOutboxEntity, 'o')
        .select('COUNT(*)', 'depth')
        .addSelect('MIN(CASE WHEN o.next_attempt_at <= :now THEN o.next_attempt_at END)', 'oldest')
        .where('o.status = :pending', { pending: 'pending' })
        .setParameter('now', now.getTime())
        .getRawOne<{ depth: string | number; oldest: string | number | null }>();
      const oldest = row?.oldest ?? null;
      return { depth: Number(row?.depth ?? 0), oldestDueAt: oldest === null ? null : new Date(Number(oldest)) };
    });
  }

  async retryLater(row: SmsOutboxEntity, next: Date, lastError: string): Promise<void> {
    await this.tx.run((manager) =>
      manager.update(
        SmsOutboxEntity,
        { id: row.id, status: 'pending', lockedUntil: row.lockedUntil ?? IsNull() },
        { nextAttemptAt: next, lockedUntil: null, lastError: lastError.slice(0, 500) },
      ),
    );
  }
}
