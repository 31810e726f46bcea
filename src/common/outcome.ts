/**
 * How a unit of work ends when its failure is an answer that must be committed (a counted wrong
 * guess) rather than an exception that rolls everything back. The compiler makes the caller look
 * at `ok` before it can use either side; anything else a unit meets is thrown, never returned.
 */
export type Outcome<T, E> = { ok: true; value: T } | { ok: false; error: E };

export const succeeded = <T>(value: T): Outcome<T, never> => ({ ok: true, value });
export const failed = <E>(error: E): Outcome<never, E> => ({ ok: false, error });
