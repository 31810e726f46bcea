import { deeperThan, MAX_JSON_DEPTH } from './json-depth';

const nest = (depth: number, make: (inner: unknown, level: number) => unknown) => {
  let value: unknown = 1;
  for (let i = 0; i < depth; i++) value = make(value, i);
  return value;
};

describe(deeperThan.name, () => {
  it.each([
    ['objects', (inner: unknown) => ({ a: inner })],
    ['lists', (inner: unknown) => [inner]],
    ['both, in turns', (inner: unknown, level: number) => (level % 2 ? [inner] : { a: inner })],
  ])('counts each level of %s: exactly max passes, one more does not', (_, make) => {
    expect(deeperThan(nest(3, make), 3)).toBe(false);
    expect(deeperThan(nest(4, make), 3)).toBe(true);
  });

  it('reads scalars and empty containers as shallow', () => {
    expect(deeperThan(1, 0)).toBe(false);
    expect(deeperThan(null, 0)).toBe(false);
    expect(deeperThan({}, 1)).toBe(false);
    expect(deeperThan({}, 0)).toBe(true);
  });

  it('finds the deep branch among shallow ones', () => {
    expect(deeperThan({ a: 1, b: [1, 2], c: { d: { e: {} } } }, 3)).toBe(true);
    expect(deeperThan({ a: 1, b: [1, 2], c: { d: { e: 1 } } }, 3)).toBe(false);
  });

  it('walks 100,000 levels without overflowing the stack', () => {
    const deep = JSON.parse('['.repeat(100_000) + ']'.repeat(100_000)) as unknown;
    expect(deeperThan(deep, MAX_JSON_DEPTH)).toBe(true);
  });

  it('lets the deepest request of the contract through', () => {
    const organization = {
      name: 'ACME',
      admins: [{ human: { profile: { givenName: 'A' }, metadata: [{ key: 'k', value: 'dg==' }] } }],
    };
    expect(deeperThan(organization, MAX_JSON_DEPTH)).toBe(false);
  });
});
