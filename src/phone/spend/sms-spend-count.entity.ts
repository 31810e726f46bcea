import { Column, Entity, Index, PrimaryColumn } from 'typeorm';

/** Integer micros in a BIGINT: pg returns it as a string, SQLite as a number. */
export const microsTransformer = {
  to: (value: number | null | undefined) => value,
  from: (value: string | number | null) => (value === null || value === undefined ? value : Number(value)),
};

/**
 * One UTC day of one spend counter, in micros of SMS_PRICE_CURRENCY: `key` is "i" (the instance),
 * "o:<org id>", "c:<country>", "g:<country group>" or "p:<provider>|<country label>" (the metrics').
 */
@Entity({ name: 'sms_spend_counts' })
@Index('IDX_sms_spend_counts_day', ['day'])
export class SmsSpendCountEntity {
  @PrimaryColumn({ type: 'varchar', length: 200 })
  key: string;

  /** the day's start, epoch ms */
  @PrimaryColumn({ type: 'bigint' })
  day: string;

  @Column({ type: 'bigint', default: 0, transformer: microsTransformer })
  micros: number;
}
