import { Column, PrimaryColumn } from 'typeorm';
import { TimeColumn } from '../../database/columns';

/**
 * The columns every outbox row has: its id, status, and the attempts, lease and deadline a worker
 * claims it by (ADR 0014). Each outbox's entity extends it with the table and columns of its own.
 */
export abstract class OutboxRow<Status extends string> {
  @PrimaryColumn({ type: 'varchar', length: 200 })
  id: string;

  @Column({ type: 'varchar', length: 16 })
  status: Status;

  @Column({ type: 'integer', default: 0 })
  attempts: number;

  @TimeColumn('next_attempt_at')
  nextAttemptAt: Date;

  @TimeColumn('locked_until', { nullable: true })
  lockedUntil: Date | null;

  @TimeColumn('created_at')
  createdAt: Date;

  @TimeColumn('give_up_at')
  giveUpAt: Date;

  @TimeColumn('finished_at', { nullable: true })
  finishedAt: Date | null;

  @Column({ name: 'last_error', type: 'varchar', length: 500, nullable: true })
  lastError: string | null;
}
