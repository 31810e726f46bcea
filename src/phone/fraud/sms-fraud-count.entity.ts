import { Column, Entity, Index, PrimaryColumn } from 'typeorm';

/**
 * One hour of one pumping-guard counter: `key` is "c:<country>", "p:<prefix>", "a:<address>" or
 * "ac:<address>|<country>"; `hour` the hour's start (epoch ms). Rows older than SMS_FRAUD_COUNTER_RETENTION (15 days) are forgotten.
 */
@Entity({ name: 'sms_fraud_counts' })
@Index('IDX_sms_fraud_counts_hour', ['hour'])
export class SmsFraudCountEntity {
  @PrimaryColumn({ type: 'varchar', length: 200 })
  key: string;

  @PrimaryColumn({ type: 'bigint' })
  hour: string;

  @Column({ type: 'integer', default: 0 })
  sent: number;

  @Column({ type: 'integer', default: 0 })
  verified: number;
}

/** A number verified before (only its keyed hash): it always passes the guard. */
@Entity({ name: 'sms_verified_numbers' })
@Index('IDX_sms_verified_numbers_at', ['verifiedAt'])
export class SmsVerifiedNumberEntity {
  @PrimaryColumn({ name: 'number_hash', type: 'varchar', length: 64 })
  numberHash: string;

  @Column({ name: 'verified_at', type: 'bigint' })
  verifiedAt: string;
}
