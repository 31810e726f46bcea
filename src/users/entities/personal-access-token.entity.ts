import { Column, Entity, Index, PrimaryColumn } from 'typeorm';
import { IdColumn, TimeColumn } from '../../database/columns';

/** Only the SHA-256 of a token is stored; the token itself is shown once, at creation. */
@Entity({ name: 'personal_access_tokens' })
export class PersonalAccessTokenEntity {
  @PrimaryColumn({ type: 'varchar', length: 200 })
  id: string;

  @Index('IDX_pats_user')
  @IdColumn('user_id')
  userId: string;

  @Column({ name: 'token_hash', type: 'varchar', length: 64, unique: true })
  tokenHash: string;

  @TimeColumn('expires_at')
  expiresAt: Date;

  @TimeColumn('created_at')
  createdAt: Date;
}
