import { Caller } from './caller';

/** Turns a bearer token into a caller, or undefined when the token is not valid. Provided by the users module. */
export abstract class CallerResolver {
  abstract resolve(token: string): Promise<Caller | undefined>;
}
