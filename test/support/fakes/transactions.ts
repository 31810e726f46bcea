import type { PhoneCodesRepository } from '../../../src/phone/phone-codes.repository';
import type { TransactionRunner } from '../../../src/database/transaction-runner';

/**
 * The transaction handle the services pass down, named only through a signature that carries it,
 * so that unit specs do not depend on what the handle is.
 */
export type Tx = Parameters<PhoneCodesRepository['claimAttempt']>[0];

/** A handle that is never looked into: the fakes ignore it. */
export const fakeTx = {} as Tx;

/** Runs the work with the fake handle and records how each unit of work ended. */
export class FakeTransactions implements Pick<TransactionRunner, 'run'> {
  readonly ends: Array<'committed' | 'rolled back'> = [];

  async run<T>(work: (tx: Tx) => Promise<T>): Promise<T> {
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
