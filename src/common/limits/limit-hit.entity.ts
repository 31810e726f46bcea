import { Column, Entity, Index, PrimaryColumn } from 'typeorm';
import { TimeColumn } from '../../database/columns';

/** One counted event of a rate limit (a sliding log): the limit is "at most N hits of `key` within a window". */
@Entity({ name: 'limit_hits' })
@Index('IDX_limit_hits_key_at', ['key', 'at'])
export class LimitHitEntity {
  @PrimaryColumn({ type: 'varchar', length: 200 })
  id: string;

  @Column({ type: 'varchar', length: 300 })
  key: string;

  @TimeColumn('at')
  at: Date;
}
