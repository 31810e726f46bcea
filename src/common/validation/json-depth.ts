/**
 * How deep a request body may nest. Protobuf JSON of this contract needs 6 levels (an
 * organization's admin's human's profile); the recursive steps after JSON.parse (name
 * normalisation, class-transformer) would overflow the stack on a few thousand.
 */
export const MAX_JSON_DEPTH = 64;

/** Whether a parsed JSON value nests objects and lists deeper than `max` levels (`{}` is 1). */
export function deeperThan(value: unknown, max: number): boolean {
  // iterative, so that the check itself cannot overflow
  const stack: Array<[unknown, number]> = [[value, 1]];
  while (stack.length > 0) {
    const [node, depth] = stack.pop()!;
    if (node === null || typeof node !== 'object') continue;
    if (depth > max) return true;
    for (const inner of Object.values(node)) {
      if (inner !== null && typeof inner === 'object') stack.push([inner, depth + 1]);
    }
  }
  return false;
}
