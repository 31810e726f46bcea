import { Column, Entity, Index, PrimaryColumn } from 'typeorm';
import type { Role } from '../../common/auth/caller';
import { IdColumn, TimeColumn } from '../../database/columns';

/**
 * A role a user holds on one organization (`scope` its id) or instance-wide (`instance`, with an
 * empty `scope`): the instance is a flag of its own, so no organization id can ever stand for it.
 */
@Entity({ name: 'memberships' })
@Index('UQ_memberships_user_scope_role', ['userId', 'scope', 'role'], { unique: true })
export class MembershipEntity {
  @PrimaryColumn({ type: 'varchar', length: 200 })
  id: string;

  @IdColumn('user_id')
  userId: string;

  @Column({ type: 'varchar', length: 200 })
  scope: string;

  @Column({ type: 'boolean', default: false })
  instance: boolean;

  @Column({ type: 'varchar', length: 40 })
  role: Role;

  @TimeColumn('created_at')
  createdAt: Date;
}
