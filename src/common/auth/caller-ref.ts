import type { Tx } from '../../database/sql';
import { Errors } from '../errors/errors';
import type { Caller } from './caller';
import type { CallerResolver } from './caller-resolver';

/**
 * The caller of one request, looked up when its use-case first needs it, inside its transaction
 * where it has one (`within`), and never remembered past the request (ADR 0012).
 */
export class CallerRef {
  private lookup?: Promise<Caller | undefined>;
  /** the transaction the lookup was made in (undefined: on its own) */
  private lookupTx?: Tx;

  constructor(
    private readonly token: string,
    private readonly resolver: CallerResolver,
  ) {}

  /** A caller already known (first start, specs). */
  static of(caller: Caller): CallerRef {
    const ref = new CallerRef('', { resolve: () => Promise.resolve(caller) });
    ref.lookup = Promise.resolve(caller);
    return ref;
  }

  /** The caller, looked up on its own. */
  resolve(): Promise<Caller> {
    return authenticated((this.lookup ??= this.resolver.resolve(this.token)));
  }

  /** The caller, looked up as `tx`'s next statement: call it before the transaction's first read. */
  within(tx: Tx): Promise<Caller> {
    // a transaction run once more (the PostgreSQL adapter does after a schema change or a pooler's answer) looks it up again
    if (!this.lookup || (this.lookupTx !== undefined && this.lookupTx !== tx)) {
      this.lookup = this.resolver.resolve(this.token, tx);
      this.lookupTx = tx;
    }
    return authenticated(this.lookup);
  }

  /**
   * For an error answered before or while the caller was looked up: false when the token names no
   * caller (then the answer is 401, whatever else was wrong), true when it does, undefined when the
   * lookup inside a transaction failed with it (the transaction's own error is the answer). A
   * lookup that never started is made now; its dependency error is thrown.
   */
  async authenticates(): Promise<boolean | undefined> {
    if (!this.lookup) return (await (this.lookup = this.resolver.resolve(this.token))) !== undefined;
    try {
      return (await this.lookup) !== undefined;
    } catch {
      return undefined;
    }
  }
}

async function authenticated(lookup: Promise<Caller | undefined>): Promise<Caller> {
  const caller = await lookup;
  if (!caller) throw Errors.unauthenticated();
  return caller;
}
