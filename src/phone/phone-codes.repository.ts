import { Injectable } from '@nestjs/common';
import { SqlRepository, Tx } from '../database/sql';
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
export class PhoneCodesRepository extends SqlRepository {
  private userAndCodeSql?: string;

  /**
   * The user, its row locked until the transaction ends on PostgreSQL (SQLite transactions are
   * serial), and its pending code, in one statement: what every check and resend starts from.
   */
  async findUserAndCode(tx: Tx, userId: string): Promise<UserAndCode> {
    this.userAndCodeSql ??=
      `SELECT ${this.db.columns(UserEntity, 'u')}, ${this.db.columns(PhoneCodeEntity, 'c')} ` +
      'FROM users u LEFT JOIN phone_codes c ON c.user_id = u.id WHERE u.id = $1' +
      (this.db.dialect === 'postgres' ? ' FOR UPDATE OF u' : '');
    const [row] = await this.db.rows<Record<string, unknown>>(tx, this.userAndCodeSql, [userId]);
    if (!row) return { pending: null };
    const user = this.db.hydrate(UserEntity, row, 'u');
    const pending = row['c.id'] == null ? null : this.db.hydrate(PhoneCodeEntity, row, 'c');
    return { user: live(user), pending };
  }

  async findByUser(tx: Tx, userId: string): Promise<PhoneCodeEntity | null> {
    const [code] = await this.db.select(tx, PhoneCodeEntity, 'user_id = $1', [userId]);
    return code ?? null;
  }

  /** A new code replaces whatever the user had pending. */
  async replace(tx: Tx, code: PhoneCodeEntity): Promise<void> {
    await this.db.execute(tx, 'DELETE FROM phone_codes WHERE user_id = $1', [code.userId]);
    await this.db.insert(tx, PhoneCodeEntity, code);
  }

  async removeForUser(tx: Tx, userId: string): Promise<void> {
    await this.db.execute(tx, 'DELETE FROM phone_codes WHERE user_id = $1', [userId]);
  }

  /**
   * Counts one attempt before the comparison. Returns the attempts used including this one, or
   * undefined when the code is consumed or has none left (so no comparison may happen).
   */
  async claimAttempt(tx: Tx, codeId: string, maxAttempts: number): Promise<number | undefined> {
    const [row] = await this.db.rows<{ attempts: number }>(
      tx,
      'UPDATE phone_codes SET attempts = attempts + 1 WHERE id = $1 AND attempts < $2 AND consumed_at IS NULL RETURNING attempts',
      [codeId, maxAttempts],
    );
    return row === undefined ? undefined : Number(row.attempts);
  }

  /** Exactly one caller can consume a code. */
  async consume(tx: Tx, codeId: string, at: Date): Promise<boolean> {
    return this.db.updateById(tx, PhoneCodeEntity, codeId, { consumedAt: at }, 'consumed_at IS NULL');
  }
}
