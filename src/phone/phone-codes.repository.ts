import { Injectable } from '@nestjs/common';
import { changedNothing, SqlRepository, Tx } from '../database/sql';
import { UserEntity } from '../users/entities/user.entity';
import { live } from '../users/users.repository';
import { PhoneCodeEntity } from './phone-code.entity';
import { PhoneErrors } from './phone.errors';

export interface UserAndCode {
  /** undefined when there is no such user, or it is deleted */
  user?: UserEntity;
  pending: PhoneCodeEntity | null;
}

/**
 * Pending phone codes. Attempts and consumption are conditional updates, so the database decides
 * races: an attempt is claimed before the comparison, a code is consumed once (ADR 0011, 0015).
 */
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
    await Promise.all([
      this.db.execute(tx, 'DELETE FROM phone_codes WHERE user_id = $1', [code.userId]),
      this.db.insert(tx, PhoneCodeEntity, code),
    ]);
  }

  async removeForUser(tx: Tx, userId: string): Promise<void> {
    await this.db.execute(tx, 'DELETE FROM phone_codes WHERE user_id = $1', [userId]);
  }

  /**
   * Counts one attempt before the comparison, if the code may be compared; undefined if not. Needs
   * only the user's id, so it travels with the user's load and row lock (ADR 0009).
   */
  async claimAttempt(tx: Tx, userId: string, maxAttempts: number, now: Date): Promise<Claim | undefined> {
    const [row] = await this.db.rows<{ id: string; attempts: number | string }>(
      tx,
      'UPDATE phone_codes SET attempts = attempts + 1 ' +
        'WHERE user_id = $1 AND attempts < $2 AND consumed_at IS NULL AND expires_at > $3 ' +
        'AND phone = (SELECT phone FROM users WHERE id = $4 AND phone_verified = $5) RETURNING id, attempts',
      [userId, maxAttempts, now.getTime(), userId, false],
    );
    return row === undefined ? undefined : { codeId: row.id, attempts: Number(row.attempts) };
  }

  /** Hands back an attempt this transaction claimed but may not count (the check was refused before it). */
  async releaseAttempt(tx: Tx, codeId: string): Promise<void> {
    await this.db.execute(tx, 'UPDATE phone_codes SET attempts = attempts - 1 WHERE id = $1', [codeId]);
  }

  /** The verification a delegated verifier started for the code (its check names it). */
  async recordVerification(tx: Tx, codeId: string, verificationId: string): Promise<void> {
    await this.db.execute(tx, 'UPDATE phone_codes SET verification_id = $1 WHERE id = $2', [verificationId, codeId]);
  }

  /** The provider refused further checks of the code: no attempt is left here either. */
  async exhaustAttempts(tx: Tx, codeId: string, maxAttempts: number): Promise<void> {
    await this.db.execute(tx, 'UPDATE phone_codes SET attempts = $1 WHERE id = $2', [maxAttempts, codeId]);
  }

  /** Consumes a claimed code; consumed already, the statement fails the transaction (ADR 0011). */
  async consume(tx: Tx, codeId: string, at: Date): Promise<void> {
    const params = [at.getTime(), codeId];
    const update = 'UPDATE phone_codes SET consumed_at = $1 WHERE id = $2 AND consumed_at IS NULL';
    if (this.db.dialect === 'postgres') {
      const sql = `WITH consumed AS (${update} RETURNING id) SELECT 1 / (SELECT count(*) FROM consumed) AS consumed`;
      await this.db.rows(tx, sql, params).catch((error: unknown) => {
        throw changedNothing(error) ? PhoneErrors.consumedConcurrently() : error;
      });
      // SQLite runs a closing write before COMMIT: a refusal thrown here rolls the unit back
    } else if ((await this.db.execute(tx, update, params)) === 0) {
      throw PhoneErrors.consumedConcurrently();
    }
  }
}

/** An attempt counted on a pending code. */
export interface Claim {
  codeId: string;
  /** attempts used, this one included */
  attempts: number;
}
