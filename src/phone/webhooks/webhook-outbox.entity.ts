import { Column, Entity, Index } from 'typeorm';
import { IdColumn } from '../../database/columns';
import { OutboxRow } from '../outbox/outbox-row.entity';

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
export class WebhookOutboxEntity extends OutboxRow<WebhookStatus> {
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
}
