import type { Tx } from '../../database/sql';
import type { Caller } from './caller';
import { CallerRef } from './caller-ref';

const caller = { userId: 'u1' } as unknown as Caller;
const tx = () => ({}) as Tx;

describe('CallerRef.within', () => {
  it('looks the caller up once per transaction: again in a transaction run once more', async () => {
    const resolve = jest
      .fn<Promise<Caller | undefined>, [string, Tx?]>()
      .mockRejectedValueOnce(new Error('prepared statement "pv_x" does not exist'))
      .mockResolvedValue(caller);
    const ref = new CallerRef('token', { resolve });
    const first = tx();
    await expect(ref.within(first)).rejects.toThrow('does not exist');
    // the same transaction gets the same lookup
    await expect(ref.within(first)).rejects.toThrow('does not exist');
    const second = tx();
    await expect(ref.within(second)).resolves.toBe(caller);
    await expect(ref.within(second)).resolves.toBe(caller);
    expect(resolve.mock.calls).toEqual([
      ['token', first],
      ['token', second],
    ]);
  });
});
