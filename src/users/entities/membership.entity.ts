import { Column, Entity, Index, PrimaryColumn } from 'typeorm';
import type { Role } from '../../common/auth/caller';
import { IdColumn, TimeColumn } from '../../database/columns';

/** `scope` is an organization id, or INSTANCE_SCOPE for instance-wide roles (IAM_OWNER). */
export const INSTANCE_SCOPE = 'instance';

@Entity({ name: 'memberships' })
@Index('UQ_memberships_user_scope_role', ['userId', 'scope', 'role'], { unique: true })
export class MembershipEntity {
  @PrimaryColumn({ type: 'varchar', length: 200 })
  id: string;

  @IdColumn('user_id')
  userId: string;

  @Column({ type: 'varchar', length: 200 })
  scope: string;

  @Column({ type: 'varchar', length: 40 })
  role: Role;

  @TimeColumn('created_at')
  createdAt: Date;
}
