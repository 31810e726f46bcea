import type { Aggregate } from '../common/events/events.repository';
import { UserEntity } from './entities/user.entity';

/** The user as an event aggregate: its organization owns the events; the sequence stays in step with the entity. */
export function aggregateOf(user: UserEntity): Aggregate {
  return {
    target: UserEntity,
    type: 'user',
    id: user.id,
    resourceOwner: user.orgId,
    get sequence() {
      return user.sequence;
    },
    set sequence(value: number) {
      user.sequence = value;
    },
  };
}
