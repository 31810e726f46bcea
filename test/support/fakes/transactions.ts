import type { Database, Tx } from '../../../src/database/sql';

export type { Tx };

/** A handle that is never looked into: the fakes ignore it. */
export const fakeTx = {} as Tx;

/** Runs the work with the fake handle and records how each unit of work ended. */
export class FakeTransactions implements Pick<Database, 'transaction'> {
  readonly ends: Array<'committed' | 'rolled back'> = [];

  async transaction<T>(work: (tx: Tx) => Promise<T>): Promise<T> {
    try {
      const result = await work(fakeTx);
      this.ends.push('committed');
      return result;
    } catch (error) {
      this.ends.push('rolled back');
      throw error;
    }
  }
}
