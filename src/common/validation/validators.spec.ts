import { validateSync } from 'class-validator';
import { CodePointLength, OneOf } from './validators';

class Named {
  @CodePointLength(1, 3)
  name: unknown;
}

class Optional {
  @CodePointLength(0, 2)
  note: unknown;
}

class Choice {
  @OneOf(['a', 'b'])
  a?: unknown;

  @OneOf(['a', 'b'])
  b?: unknown;
}

const errorsOf = (object: object) =>
  validateSync(object).map((e) => ({ property: e.property, messages: Object.values(e.constraints ?? {}) }));

const named = (name: unknown) => Object.assign(new Named(), { name });
const choice = (values: Partial<Choice>) => Object.assign(new Choice(), values);

describe('CodePointLength', () => {
  it.each([
    ['a', true],
    ['abc', true],
    ['😀😀😀', true],
    ['👍🏽', true],
    ['', false],
    ['abcd', false],
    ['😀😀😀😀', false],
  ])('counts code points, not UTF-16 units: %j valid = %s', (value, valid) => {
    expect(errorsOf(named(value)).length === 0).toBe(valid);
  });

  it('refuses non-strings', () => {
    expect(errorsOf(named(123))).toEqual([
      { property: 'name', messages: ['name must be between 1 and 3 characters long'] },
    ]);
  });

  it('says "at most" when there is no minimum', () => {
    expect(errorsOf(Object.assign(new Optional(), { note: 'abc' }))).toEqual([
      { property: 'note', messages: ['note must be at most 2 characters long'] },
    ]);
  });
});

describe('OneOf', () => {
  it('accepts none or one member of the group', () => {
    expect(errorsOf(choice({}))).toEqual([]);
    expect(errorsOf(choice({ a: {} }))).toEqual([]);
    expect(errorsOf(choice({ b: false }))).toEqual([]);
    expect(errorsOf(choice({ a: null, b: 1 }))).toEqual([]);
  });

  it('flags every member when more than one is set', () => {
    expect(errorsOf(choice({ a: {}, b: true }))).toEqual([
      { property: 'a', messages: ['only one of a, b may be set'] },
      { property: 'b', messages: ['only one of a, b may be set'] },
    ]);
  });
});
