import type { Tx } from '../../database/sql';
import { Caller } from './caller';

/**
 * Turns a bearer token into a caller, or undefined when the token is not valid; with `tx`, its
 * lookup is a statement of that transaction. Provided by the users module.
 */
export abstract class CallerResolver {
  abstract resolve(token: string, tx?: Tx): Promise<Caller | undefined>;
}
