import { Column, Entity, Index, PrimaryColumn } from 'typeorm';
import { IdColumn, TimeColumn } from '../../database/columns';

export type OutboxStatus = 'pending' | 'delivered' | 'failed' | 'skipped';

/**
 * One SMS to deliver, written in the same transaction as its code. The code travels encrypted
 * (`sealedCode`) and is erased once the message is delivered, given up or skipped.
 */
@Entity({ name: 'sms_outbox' })
@Index('IDX_sms_outbox_due', ['status', 'nextAttemptAt'])
export class SmsOutboxEntity {
  @PrimaryColumn({ type: 'varchar', length: 200 })
  id: string;

  @IdColumn('code_id')
  codeId: string;

  @IdColumn('user_id')
  userId: string;

  @IdColumn('org_id')
  orgId: string;

  @Column({ type: 'varchar', length: 32 })
  recipient: string;

  @Column({ name: 'sealed_code', type: 'text', nullable: true })
  sealedCode: string | null;

  @Column({ type: 'varchar', length: 16 })
  status: OutboxStatus;

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

  @Column({ name: 'last_error', type: 'varchar', length: 500, nullable: true })
  lastError: string | null;

  @Column({ type: 'varchar', length: 100, nullable: true })
  provider: string | null;

  @TimeColumn('finished_at', { nullable: true })
  finishedAt: Date | null;
}
