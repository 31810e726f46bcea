import { Column, Entity, Index, PrimaryColumn } from 'typeorm';
import type { Aggregate } from '../../common/events/events.repository';
import { IdColumn, TimeColumn } from '../../database/columns';

export enum UserState {
  UNSPECIFIED = 0,
  ACTIVE = 1,
  INACTIVE = 2,
  DELETED = 3,
  LOCKED = 4,
  INITIAL = 5,
}

export type UserType = 'human' | 'machine';

@Entity({ name: 'users' })
@Index('UQ_users_org_username', ['orgId', 'username'], { unique: true })
export class UserEntity {
  @PrimaryColumn({ type: 'varchar', length: 200 })
  id: string;

  @IdColumn('org_id')
  orgId: string;

  @Column({ type: 'varchar', length: 10 })
  type: UserType;

  @Column({ type: 'integer' })
  state: UserState;

  @Column({ type: 'varchar', length: 200 })
  username: string;

  @Column({ name: 'given_name', type: 'varchar', length: 200, nullable: true })
  givenName: string | null;

  @Column({ name: 'family_name', type: 'varchar', length: 200, nullable: true })
  familyName: string | null;

  @Column({ name: 'nick_name', type: 'varchar', length: 200, nullable: true })
  nickName: string | null;

  @Column({ name: 'display_name', type: 'varchar', length: 200, nullable: true })
  displayName: string | null;

  @Column({ name: 'preferred_language', type: 'varchar', length: 10, nullable: true })
  preferredLanguage: string | null;

  @Column({ type: 'integer', default: 0 })
  gender: number;

  @Column({ type: 'varchar', length: 200, nullable: true })
  email: string | null;

  @Column({ name: 'email_verified', type: 'boolean' })
  emailVerified: boolean;

  @Column({ type: 'varchar', length: 32, nullable: true })
  phone: string | null;

  @Column({ name: 'phone_verified', type: 'boolean' })
  phoneVerified: boolean;

  @Column({ name: 'machine_name', type: 'varchar', length: 200, nullable: true })
  machineName: string | null;

  @Column({ name: 'machine_description', type: 'varchar', length: 500, nullable: true })
  machineDescription: string | null;

  /** Sequence of the last event of this user: the lock point that keeps event sequences gap-free. */
  @Column({ type: 'integer', default: 0 })
  sequence: number;

  @TimeColumn('created_at')
  createdAt: Date;

  @TimeColumn('changed_at')
  changedAt: Date;
}

/**
 * The user as an event aggregate: its organization owns the events; the sequence stays in step with
 * the entity. Beside the entity, so that a feature appending a user's events needs nothing else of users.
 */
export function aggregateOf(user: UserEntity): Aggregate {
  return new UserAggregate(user);
}

class UserAggregate implements Aggregate {
  readonly target = UserEntity;
  readonly type = 'user';
  readonly id: string;
  readonly resourceOwner: string;

  constructor(private readonly user: UserEntity) {
    this.id = user.id;
    this.resourceOwner = user.orgId;
  }

  get sequence(): number {
    return this.user.sequence;
  }

  set sequence(value: number) {
    this.user.sequence = value;
  }
}
