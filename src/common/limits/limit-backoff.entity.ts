import { Column, Entity, PrimaryColumn } from 'typeorm';
import { TimeColumn } from '../../database/columns';

/** The progressive back-off of one key (an SMS destination number): see BackoffStore. */
@Entity({ name: 'limit_backoffs' })
export class LimitBackoffEntity {
  @PrimaryColumn({ type: 'varchar', length: 300 })
  key: string;

  /** sends counted since the last reset */
  @Column({ type: 'integer' })
  sends: number;

  /** the next send waits until then */
  @TimeColumn('next_at')
  nextAt: Date;

  /** after this the record counts for nothing (BACKOFF_QUIET_MS after next_at) */
  @TimeColumn('expires_at')
  expiresAt: Date;
}
