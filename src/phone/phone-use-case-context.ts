import { Injectable } from '@nestjs/common';
import type { CallerRef } from '../common/auth/caller-ref';
import { Clock } from '../common/clock';
import { Database, Tx, Work } from '../database/sql';
import { PhoneCodesRepository } from './phone-codes.repository';
import { PhoneErrors } from './phone.errors';

/** What every phone use-case starts from: its transaction, its time, the caller and the human it acts on. */
@Injectable()
export class PhoneUseCaseContext {
  constructor(
    private readonly db: Database,
    private readonly clock: Clock,
    private readonly codes: PhoneCodesRepository,
  ) {}

  transaction<T>(work: Work<T>): Promise<T> {
    return this.db.transaction(work);
  }

  now(): Date {
    return this.clock.now();
  }

  /**
   * The caller, then the human user (row-locked on PostgreSQL) and its pending code in one
   * statement: issued together, answered in that order, so an unknown token is refused first.
   */
  async loadHuman(tx: Tx, ref: CallerRef, userId: string) {
    const [caller, { user, pending }] = await Promise.all([ref.within(tx), this.codes.findUserAndCode(tx, userId)]);
    if (!user || user.type !== 'human') throw PhoneErrors.phoneNotFound();
    return { caller, user, pending };
  }
}
