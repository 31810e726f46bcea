import { Injectable } from '@nestjs/common';
import { DataSource, EntityManager } from 'typeorm';
import { AppError } from '../common/errors/app-error';
import { selectEntities, updateById } from '../database/raw-sql';
import { isUniqueViolation } from '../database/unique-violation';
import { UserEntity, UserState } from './entities/user.entity';

/** A deleted user is, to every reader, no user. */
export function live(user: UserEntity | undefined): UserEntity | undefined {
  return user && user.state !== UserState.DELETED ? user : undefined;
}

/** Persistence of users. Row locks and unique-violation translation live here, not in services. */
@Injectable()
export class UsersRepository {
  constructor(private readonly dataSource: DataSource) {}

  /** A live (not deleted) user, or undefined. */
  async findById(id: string, manager: EntityManager = this.dataSource.manager): Promise<UserEntity | undefined> {
    const [user] = await selectEntities(manager, UserEntity, 'id = $1', [id]);
    return live(user);
  }

  /**
   * Loads the user for a change. On PostgreSQL the row stays locked until the transaction ends,
   * so concurrent changes of one user run one after the other; SQLite transactions are serial.
   */
  async findForUpdate(manager: EntityManager, id: string): Promise<UserEntity | undefined> {
    const lock = manager.connection.options.type === 'postgres' ? ' FOR UPDATE' : '';
    const [user] = await selectEntities(manager, UserEntity, 'id = $1', [id], lock);
    return live(user);
  }

  async insert(manager: EntityManager, user: UserEntity, onConflict: () => AppError): Promise<void> {
    try {
      await manager.insert(UserEntity, user);
    } catch (error) {
      if (isUniqueViolation(error)) throw onConflict();
      throw error;
    }
  }

  async update(manager: EntityManager, id: string, fields: Partial<UserEntity>): Promise<void> {
    await updateById(manager, UserEntity, id, fields);
  }
}
