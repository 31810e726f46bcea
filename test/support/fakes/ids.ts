import type { IdGenerator } from '../../../src/common/ids/id-generator';

/** Ids in order, from a fixed start, so specs can name them. */
export class SequentialIds implements Pick<IdGenerator, 'next'> {
  private last = 400000000000000000n;

  next(): string {
    this.last += 1n;
    return String(this.last);
  }
}
