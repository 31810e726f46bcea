import { Injectable } from '@nestjs/common';
import { SqlRepository, Tx } from '../../database/sql';

/** What a claim found when the key was taken already. */
export interface ClaimedBefore {
  fingerprint: string;
  /** the sealed answer; null while the first request runs */
  answer: string | null;
}

export interface NewClaim {
  id: string;
  fingerprint: string;
  now: Date;
  expiresAt: Date;
}

/** The Idempotency-Key rows: claimed, answered or released, pruned after their day. */
@Injectable()
export class IdempotentRequestsRepository extends SqlRepository {
  /**
   * Takes the key (an expired row of it is replaced): undefined when this request took it, else
   * the row found. One transaction, so two claims never both win.
   */
  claim({ id, fingerprint, now, expiresAt }: NewClaim): Promise<ClaimedBefore | undefined> {
    return this.db.transaction(async (tx) => {
      await this.db.execute(tx, 'DELETE FROM idempotent_requests WHERE id = $1 AND expires_at <= $2', [
        id,
        now.getTime(),
      ]);
      const inserted = await this.db.execute(
        tx,
        'INSERT INTO idempotent_requests (id, fingerprint, answer, created_at, expires_at) VALUES ($1, $2, NULL, $3, $4) ' +
          'ON CONFLICT (id) DO NOTHING',
        [id, fingerprint, now.getTime(), expiresAt.getTime()],
      );
      if (inserted === 1) return undefined;
      return this.found(tx, id);
    });
  }

  /** The key's row, if it still counts at `now`. */
  async find(id: string, now: Date): Promise<ClaimedBefore | undefined> {
    const [row] = await this.db.rows<ClaimedBefore>(
      undefined,
      'SELECT fingerprint, answer FROM idempotent_requests WHERE id = $1 AND expires_at > $2',
      [id, now.getTime()],
    );
    return row;
  }

  async answer(id: string, answer: string): Promise<void> {
    await this.db.execute(undefined, 'UPDATE idempotent_requests SET answer = $1 WHERE id = $2', [answer, id]);
  }

  /** Gives the key back: unanswered (the request failed in a way a retry may mend), or `answered` too. */
  async release(id: string, answered = false): Promise<void> {
    const sql = `DELETE FROM idempotent_requests WHERE id = $1${answered ? '' : ' AND answer IS NULL'}`;
    await this.db.execute(undefined, sql, [id]);
  }

  /** Deletes up to `limit` rows expired by `now`; returns how many. */
  removeExpired(tx: Tx, now: Date, limit: number): Promise<number> {
    return this.db.execute(
      tx,
      'DELETE FROM idempotent_requests WHERE id IN (SELECT id FROM idempotent_requests WHERE expires_at <= $1 LIMIT $2)',
      [now.getTime(), limit],
    );
  }

  private async found(tx: Tx, id: string): Promise<ClaimedBefore | undefined> {
    const [row] = await this.db.rows<ClaimedBefore>(
      tx,
      'SELECT fingerprint, answer FROM idempotent_requests WHERE id = $1',
      [id],
    );
    return row;
  }
}
