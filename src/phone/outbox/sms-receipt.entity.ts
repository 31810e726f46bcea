import { Column, Entity, PrimaryColumn } from 'typeorm';
import { TimeColumn } from '../../database/columns';
import type { DeliveryStatus } from '../sms/delivery-receipt';
import { microsTransformer } from '../spend/sms-spend-count.entity';

/**
 * A receipt waiting for its message: every receipt is written here first and applied to the outbox
 * row that names its provider's message id, then deleted. One that arrives before the send's
 * answer was stored waits here until it is (a receipt of no message is dropped after a day).
 * One row per provider, message and status: a duplicate receipt adds nothing.
 */
@Entity({ name: 'sms_receipts' })
export class SmsReceiptEntity {
  @PrimaryColumn({ type: 'varchar', length: 100 })
  provider: string;

  @PrimaryColumn({ name: 'provider_message_id', type: 'varchar', length: 200 })
  providerMessageId: string;

  @PrimaryColumn({ type: 'varchar', length: 16 })
  status: DeliveryStatus;

  @Column({ name: 'error_code', type: 'varchar', length: 64, nullable: true })
  errorCode: string | null;

  /** when the provider says the status was reached, else when the receipt came */
  @TimeColumn('status_at')
  statusAt: Date;

  @TimeColumn('received_at')
  receivedAt: Date;

  /** the price the receipt reported (micros), if it did */
  @Column({ name: 'price_micros', type: 'bigint', nullable: true, transformer: microsTransformer })
  priceMicros?: number | null;

  /** the currency of that price, when the receipt names it (Twilio's PriceUnit; Vonage's is the account's) */
  @Column({ name: 'price_currency', type: 'varchar', length: 3, nullable: true })
  priceCurrency?: string | null;
}
