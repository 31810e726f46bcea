import { DetailsMessage } from '../common/proto/details';
import { GENDERS } from './dto/common.dto';
import { UserEntity, UserState } from './entities/user.entity';

const STATE_NAMES: Record<UserState, string> = {
  [UserState.UNSPECIFIED]: 'USER_STATE_UNSPECIFIED',
  [UserState.ACTIVE]: 'USER_STATE_ACTIVE',
  [UserState.INACTIVE]: 'USER_STATE_INACTIVE',
  [UserState.DELETED]: 'USER_STATE_DELETED',
  [UserState.LOCKED]: 'USER_STATE_LOCKED',
  [UserState.INITIAL]: 'USER_STATE_INITIAL',
};

/** zitadel.user.v2.User for GetUserByID, from the stored state (contract §3, §5). */
export function userView(user: UserEntity, orgDomain: string) {
  const details: DetailsMessage = {
    sequence: String(user.sequence),
    changeDate: user.changedAt,
    resourceOwner: user.orgId,
    creationDate: user.createdAt,
  };
  const loginName = `${user.username}@${orgDomain}`;
  const type =
    user.type === 'human'
      ? {
          human: {
            profile: {
              givenName: user.givenName ?? '',
              familyName: user.familyName ?? '',
              nickName: user.nickName ?? '',
              displayName: user.displayName ?? '',
              preferredLanguage: user.preferredLanguage ?? '',
              // an enum at its default (GENDER_UNSPECIFIED) is left out, like every default value
              gender: user.gender > 0 ? GENDERS[user.gender] : undefined,
            },
            email: { email: user.email ?? '', isVerified: user.emailVerified },
            phone: { phone: user.phone ?? '', isVerified: user.phoneVerified },
          },
        }
      : { machine: { name: user.machineName ?? '', description: user.machineDescription ?? '' } };
  return {
    details,
    user: {
      userId: user.id,
      details,
      state: STATE_NAMES[user.state],
      username: user.username,
      loginNames: [loginName],
      preferredLoginName: loginName,
      ...type,
    },
  };
}
