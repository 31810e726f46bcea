import { UserEntity, UserState } from '../../../src/users/entities/user.entity';
import type { UsersRepository } from '../../../src/users/users.repository';
import type { Tx } from './transactions';

let nextId = 1;

/** A human user with a number of its own waiting to be verified, unless the test says otherwise. */
export function aHuman(overrides: Partial<UserEntity> = {}): UserEntity {
  const id = `3000000000000000${String(nextId++).padStart(2, '0')}`;
  return Object.assign(new UserEntity(), {
    id,
    orgId: '200000000000000001',
    type: 'human',
    state: UserState.ACTIVE,
    username: `user-${id}`,
    givenName: 'Given',
    familyName: 'Family',
    nickName: null,
    displayName: null,
    preferredLanguage: null,
    gender: 0,
    email: null,
    emailVerified: false,
    phone: '+41791234567',
    phoneVerified: false,
    machineName: null,
    machineDescription: null,
    sequence: 3,
    createdAt: new Date('2026-01-01T00:00:00Z'),
    changedAt: new Date('2026-01-01T00:00:00Z'),
    ...overrides,
  });
}

/** The users table in memory: rows are copied in and out, as a database would. */
export class FakeUsers implements Pick<UsersRepository, 'update' | 'findById'> {
  readonly rows = new Map<string, UserEntity>();

  add(user: UserEntity): UserEntity {
    this.rows.set(user.id, Object.assign(new UserEntity(), user));
    return user;
  }

  get(id: string): UserEntity | undefined {
    const row = this.rows.get(id);
    return row && Object.assign(new UserEntity(), row);
  }

  async findById(id: string): Promise<UserEntity | undefined> {
    return this.get(id);
  }

  async update(_tx: Tx, id: string, fields: Partial<UserEntity>): Promise<void> {
    const row = this.rows.get(id);
    if (row) Object.assign(row, fields);
  }
}
