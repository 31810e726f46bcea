import { Column, Entity, Index } from 'typeorm';
import { IdColumn, TimeColumn } from '../../database/columns';
import type { DeliveryStatus } from '../sms/delivery-receipt';
import { microsTransformer } from '../spend/sms-spend-count.entity';
import { OutboxRow } from './outbox-row.entity';

export type OutboxStatus = 'pending' | 'delivered' | 'failed' | 'skipped';

/**
 * One SMS, written with its code (ADR 0014); the sealed code is erased once no provider can send it
 * again. `status` `delivered` means accepted; `deliveryStatus` is what the receipts said since.
 */
@Entity({ name: 'sms_outbox' })
@Index('IDX_sms_outbox_due', ['status', 'nextAttemptAt'])
@Index('IDX_sms_outbox_provider_message', ['provider', 'providerMessageId'])
// the retention sweep finds the messages that ended before SMS_OUTBOX_RETENTION
@Index('IDX_sms_outbox_finished', ['finishedAt'])
export class SmsOutboxEntity extends OutboxRow<OutboxStatus> {
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

  @Column({ type: 'varchar', length: 100, nullable: true })
  provider: string | null;

  /** the accepting provider's id for the message (receipts name it) */
  @Column({ name: 'provider_message_id', type: 'varchar', length: 200, nullable: true })
  providerMessageId?: string | null;

  /** the latest status of the provider's receipts (never lowered: see STATUS_RANK) */
  @Column({ name: 'delivery_status', type: 'varchar', length: 16, nullable: true })
  deliveryStatus?: DeliveryStatus | null;

  /** the provider's error code with an undelivered or failed receipt */
  @Column({ name: 'delivery_error', type: 'varchar', length: 64, nullable: true })
  deliveryError?: string | null;

  /** when the provider says `deliveryStatus` was reached (else when its receipt came) */
  @TimeColumn('delivery_status_at', { nullable: true })
  deliveryStatusAt?: Date | null;

  /** the providers whose receipts said undelivered or failed, comma-separated: a retry skips them */
  @Column({ name: 'failed_providers', type: 'varchar', length: 500, nullable: true })
  failedProviders?: string | null;

  /** what the accepted message was counted at in the spend counters (micros), until a receipt's price replaces it */
  @Column({ name: 'spend_micros', type: 'bigint', nullable: true, transformer: microsTransformer })
  spendMicros?: number | null;

  /** the UTC day (epoch ms) the spend was counted on: a receipt's price corrects that day */
  @Column({ name: 'spend_day', type: 'bigint', nullable: true, transformer: microsTransformer })
  spendDay?: number | null;

  /** the correlation id of the request that queued it: its delivery's events carry it to the webhooks */
  @Column({ name: 'correlation_id', type: 'varchar', length: 200, nullable: true })
  correlationId?: string | null;

  /** the channel of the current step (sms, whatsapp, voice); an old release's row: null, sms */
  @Column({ type: 'varchar', length: 16, nullable: true })
  channel?: string | null;

  /** the code's workflow, its channels in order ("whatsapp,sms"); null: the channel alone */
  @Column({ type: 'varchar', length: 64, nullable: true })
  channels?: string | null;

  /** the index of the current step in `channels` (0: the first channel; null: 0) */
  @Column({ type: 'integer', nullable: true })
  step?: number | null;

  /** when the current step gives way to the next without a failure, receipt or verification; null at the last step */
  @TimeColumn('step_due_at', { nullable: true })
  stepDueAt?: Date | null;
}
