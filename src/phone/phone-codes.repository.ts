import { Injectable } from '@nestjs/common';
import { EntityManager } from 'typeorm';
import { aliasedColumns, hydrate, insertEntity, queryRows, selectEntities, updateById } from '../database/raw-sql';
import { UserEntity } from '../users/entities/user.entity';
import { live } from '../users/users.repository';
import { PhoneCodeEntity } from './phone-code.entity';

export interface UserAndCode {
  /** undefined when there is no such user, or it is deleted */
  user?: UserEntity;
  pending: PhoneCodeEntity | null;
}

/** Pending phone codes. Attempts and consumption are conditional updates: the database decides races. */
@Injectable()
export class PhoneCodesRepository {
  private userAndCodeSql?: string;

  /**
   * The user, its row locked until the transaction ends on PostgreSQL (SQLite transactions are
   * serial), and its pending code, in one statement: what every check and resend starts from.
   */
  async findUserAndCode(manager: EntityManager, userId: string): Promise<UserAndCode> {
    this.userAndCodeSql ??=
      `SELECT ${aliasedColumns(manager, UserEntity, 'u')}, ${aliasedColumns(manager, PhoneCodeEntity, 'c')} ` +
      'FROM users u LEFT JOIN phone_codes c ON c.user_id = u.id WHERE u.id = $1' +
      (manager.connection.options.type === 'postgres' ? ' FOR UPDATE OF u' : '');
    const [row] = await queryRows<Record<string, unknown>>(manager, this.userAndCodeSql, [userId]);
    if (!row) return { pending: null };
    const user = hydrate(manager, UserEntity, row, 'u');
    const pending = row['c.id'] == null ? null : hydrate(manager, PhoneCodeEntity, row, 'c');
    return { user: live(user), pending };
  }

  async findByUser(manager: EntityManager, userId: string): Promise<PhoneCodeEntity | null> {
    const [code] = await selectEntities(manager, PhoneCodeEntity, 'user_id = $1', [userId]);
    return code ?? null;
  }

  /** A new code replaces whatever the user had pending. */
  async replace(manager: EntityManager, code: PhoneCodeEntity): Promise<void> {
    await queryRows(manager, 'DELETE FROM phone_codes WHERE user_id = $1', [code.userId]);
    await insertEntity(manager, PhoneCodeEntity, code);
  }

  async removeForUser(manager: EntityManager, userId: string): Promise<void> {
    await manager.delete(PhoneCodeEntity, { userId });
  }

  /**
   * Counts one attempt before the comparison. Returns the attempts used including this one, or
   * undefined when the code is consumed or has none left (so no comparison may happen).
   */
  async claimAttempt(manager: EntityManager, codeId: string, maxAttempts: number): Promise<number | undefined> {
    const [row] = await queryRows<{ attempts: number }>(
      manager,
      'UPDATE phone_codes SET attempts = attempts + 1 WHERE id = $1 AND attempts < $2 AND consumed_at IS NULL RETURNING attempts',
      [codeId, maxAttempts],
    );
    return row === undefined ? undefined : Number(row.attempts);
  }

  /** Exactly one caller can consume a code. */
  async consume(manager: EntityManager, codeId: string, at: Date): Promise<boolean> {
    return updateById(manager, PhoneCodeEntity, codeId, { consumedAt: at }, 'consumed_at IS NULL');
  }
}
