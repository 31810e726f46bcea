import { Caller, hasPermission } from '../common/auth/caller';
import { Errors } from '../common/errors/errors';
import { SetHumanProfileDto } from './dto/common.dto';
import { OrganizationEntity } from './entities/organization.entity';
import { UserEntity, UserState } from './entities/user.entity';

// The rules UsersService applies to a user's record: a new one, its display name, who may choose
// its id, and the state changes it may go through.

/** "Given Family", cut to the 200 code points a display name may have (each part alone may have 200). */
export function defaultDisplayName(profile: SetHumanProfileDto): string {
  return [...`${profile.givenName} ${profile.familyName}`].slice(0, 200).join('');
}

export type StateChange = 'deactivate' | 'reactivate' | 'lock' | 'unlock';

export const STATE_CHANGES: Record<
  StateChange,
  { from: UserState; to: UserState; event: string; wrongState: (current: UserState) => Error }
> = {
  deactivate: {
    from: UserState.ACTIVE,
    to: UserState.INACTIVE,
    event: 'user.deactivated',
    wrongState: Errors.userNotActive,
  },
  reactivate: {
    from: UserState.INACTIVE,
    to: UserState.ACTIVE,
    event: 'user.reactivated',
    wrongState: Errors.userNotInactive,
  },
  lock: {
    from: UserState.ACTIVE,
    to: UserState.LOCKED,
    event: 'user.locked',
    wrongState: (current) => (current === UserState.LOCKED ? Errors.userAlreadyLocked() : Errors.userNotActive()),
  },
  unlock: { from: UserState.LOCKED, to: UserState.ACTIVE, event: 'user.unlocked', wrongState: Errors.userNotLocked },
};

/** Only an IAM_OWNER may choose a new user's id: a JWT's `sub` is looked up as one. */
export function assertMayChooseId(caller: Caller, id: string | undefined): void {
  if (id !== undefined && !hasPermission(caller, 'user.id.choose')) throw Errors.permissionDenied();
}

/** A new, active user of `org` with nothing set but its names. */
export function newUserRecord(
  org: OrganizationEntity,
  type: 'human' | 'machine',
  id: string,
  username: string,
  now: Date,
) {
  const user = new UserEntity();
  Object.assign(user, {
    id,
    orgId: org.id,
    type,
    state: UserState.ACTIVE,
    username,
    givenName: null,
    familyName: null,
    nickName: null,
    displayName: null,
    preferredLanguage: null,
    gender: 0,
    email: null,
    emailVerified: false,
    phone: null,
    phoneVerified: false,
    machineName: null,
    machineDescription: null,
    sequence: 0,
    createdAt: now,
    changedAt: now,
  } satisfies UserEntity);
  return user;
}
