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
 * Pending phone codes. Attempts and consumption are conditional updates: the database decides races.
 *
 * The rules that keep guessing bounded, in the order that makes them hold:
 * 1. An attempt is counted before the code is compared. `claimAttempt` adds one to the code's
 *    attempts in the same statement that checks there are attempts left, so two checks arriving
 *    together cannot both take the last one; only a check that got a claim compares the code. A
 *    claim the checker may not keep (a refusal decided before the comparison) is handed back in
 *    the same transaction, so no one ever sees it counted.
 * 2. A code is consumed once. `consume` marks it consumed only if it is not consumed yet, and
 *    fails the transaction otherwise (SQLite: by throwing; PostgreSQL: the statement itself fails,
 *    dividing by the zero rows it changed).
 * 3. A check's last writes (the consumption, the failure counted, the event) may be sent with
 *    COMMIT without waiting for their answers. If any of them fails, the database refuses the
 *    COMMIT and the whole check is undone: the answer is an error, never a success with a lost write.
 *
 * Pinned by: src/phone/phone-code-checker.spec.ts ("claims the attempt before comparing…",
 * "never lets more guesses than the limit through when they arrive together", "passes exactly
 * once when two checks of it arrive together", "fails as a whole … between the claim and the
 * consumption"); src/database/transactions.spec.ts ("a closing write that fails undoes the whole
 * unit: COMMIT is refused"); test/phone-concurrency.e2e-spec.ts (parallel guesses and right codes,
 * on SQLite and PostgreSQL).
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

  /** A new code replaces whatever the user had pending (both statements in one round trip, run in order). */
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
   * Counts one attempt of the user's pending code before the comparison, if it may be compared:
   * not consumed, attempts left, not expired at `now`, sent to the number the user has and has not
   * verified. Returns the code's id and the attempts used including this one, or undefined (no
   * comparison may happen). It needs only the user's id, so it is issued with the statements that
   * load the user and its code: one round trip on PostgreSQL, where it runs after the user's row
   * lock (statements on one connection run in order). The checker decides from what it loaded
   * whether the claim counts; one it must not keep is handed back with `releaseAttempt`.
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

  /**
   * Consumes a code whose attempt this transaction claimed (so its row is locked, and nobody else
   * can consume it first). Should it be consumed already, the statement fails (a division by the
   * zero rows consumed) and with it the transaction: the consumption may travel with COMMIT.
   */
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
