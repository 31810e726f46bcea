import { Injectable } from '@nestjs/common';
import { AppError } from '../common/errors/app-error';
import { SqlRepository, Tx } from '../database/sql';
import { isUniqueViolation } from '../database/unique-violation';
import { UserEntity, UserState } from './entities/user.entity';

/** A deleted user is, to every reader, no user. */
export function live(user: UserEntity | undefined): UserEntity | undefined {
  return user && user.state !== UserState.DELETED ? user : undefined;
}

/** Persistence of users. Row locks and unique-violation translation live here, not in services. */
@Injectable()
export class UsersRepository extends SqlRepository {
  /** A live (not deleted) user, or undefined; in `tx`, or outside a transaction. */
  async findById(id: string, tx?: Tx): Promise<UserEntity | undefined> {
    const [user] = await this.db.select(tx, UserEntity, 'id = $1', [id]);
    return live(user);
  }

  /**
   * Loads the user for a change. On PostgreSQL the row stays locked until the transaction ends,
   * so concurrent changes of one user run one after the other; SQLite transactions are serial.
   */
  async findForUpdate(tx: Tx, id: string): Promise<UserEntity | undefined> {
    const lock = this.db.dialect === 'postgres' ? ' FOR UPDATE' : '';
    const [user] = await this.db.select(tx, UserEntity, 'id = $1', [id], lock);
    return live(user);
  }

  async insert(tx: Tx, user: UserEntity, onConflict: () => AppError): Promise<void> {
    try {
      await this.db.insert(tx, UserEntity, user);
    } catch (error) {
      if (isUniqueViolation(error)) throw onConflict();
      throw error;
    }
  }

  async update(tx: Tx, id: string, fields: Partial<UserEntity>): Promise<void> {
    await this.db.updateById(tx, UserEntity, id, fields);
  }
}
