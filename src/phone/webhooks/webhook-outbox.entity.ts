import { Column, Entity, Index, PrimaryColumn } from 'typeorm';
import { IdColumn, TimeColumn } from '../../database/columns';

export type WebhookStatus = 'pending' | 'delivered' | 'failed';

/**
 * One event for one endpoint of EVENT_WEBHOOKS, written with the event (ADR 0024). `body` is sent
 * as it is on every attempt; a receiver deduplicates by the event id inside it.
 */
@Entity({ name: 'webhook_outbox' })
@Index('IDX_webhook_outbox_due', ['status', 'nextAttemptAt'])
// a user's earlier rows for the same endpoint hold back its later ones
@Index('IDX_webhook_outbox_user', ['userId', 'sequence'])
@Index('IDX_webhook_outbox_finished', ['finishedAt'])
export class WebhookOutboxEntity {
  @PrimaryColumn({ type: 'varchar', length: 200 })
  id: string;

  @IdColumn('event_id')
  eventId: string;

  @Column({ name: 'event_type', type: 'varchar', length: 64 })
  eventType: string;

  @Column({ type: 'varchar', length: 2000 })
  endpoint: string;

  @IdColumn('user_id')
  userId: string;

  /** the event's sequence in its user's stream: the order of delivery */
  @Column({ type: 'integer' })
  sequence: number;

  @Column({ type: 'text' })
  body: string;

  @Column({ type: 'varchar', length: 16 })
  status: WebhookStatus;

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
