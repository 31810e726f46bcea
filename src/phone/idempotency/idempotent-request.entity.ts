import { Column, Entity, Index, PrimaryColumn } from 'typeorm';
import { TimeColumn } from '../../database/columns';

/** One Idempotency-Key of one caller on one method: claimed, then answered (docs/idempotency.md). */
@Entity({ name: 'idempotent_requests' })
export class IdempotentRequestEntity {
  /** sha-256 (hex) of the caller, the method and the key */
  @PrimaryColumn({ type: 'varchar', length: 64 })
  id: string;

  /** sha-256 (hex) of the canonical request */
  @Column({ type: 'varchar', length: 64 })
  fingerprint: string;

  /** the sealed answer; null while the first request runs */
  @Column({ type: 'text', nullable: true })
  answer: string | null;

  @TimeColumn('created_at')
  createdAt: Date;

  /** after this the key is new again; the retention sweep deletes the row */
  @Index('IDX_idempotent_requests_expires')
  @TimeColumn('expires_at')
  expiresAt: Date;
}
