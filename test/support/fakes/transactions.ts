import { Closing, type Database, type Tx, type Work } from '../../../src/database/sql';

export type { Tx };

/** A handle that is never looked into: the fakes ignore it. */
export const fakeTx = {} as Tx;

/** Runs the work with the fake handle and records how each unit of work ended. */
export class FakeTransactions implements Pick<Database, 'transaction'> {
  readonly ends: Array<'committed' | 'rolled back'> = [];

  async transaction<T>(work: Work<T>): Promise<T> {
    try {
      const outcome = await work(fakeTx);
      const result = outcome instanceof Closing ? await outcome.writes : outcome;
      this.ends.push('committed');
      return result;
    } catch (error) {
      this.ends.push('rolled back');
      throw error;
    }
  }
}
