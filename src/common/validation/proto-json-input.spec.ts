import { camelizeKeys } from './proto-json-input';

describe('camelizeKeys', () => {
  it('turns snake_case names into lowerCamelCase, at every depth and inside lists', () => {
    expect(
      camelizeKeys({
        user_id: '1',
        profile: { given_name: 'Minnie', preferred_language: 'en' },
        admins: [{ user_id: '2', human: { email: { is_verified: true } } }],
        phone: { return_code: {} },
      }),
    ).toEqual({
      userId: '1',
      profile: { givenName: 'Minnie', preferredLanguage: 'en' },
      admins: [{ userId: '2', human: { email: { isVerified: true } } }],
      phone: { returnCode: {} },
    });
  });

  it('keeps camelCase names and values as they are', () => {
    const date = new Date(0);
    expect(camelizeKeys({ userId: 'a_b', at: date, n: 1, list: ['x_y'], none: null })).toEqual({
      userId: 'a_b',
      at: date,
      n: 1,
      list: ['x_y'],
      none: null,
    });
  });

  it.each([[{ user_id: 'snake', userId: 'camel' }], [{ userId: 'camel', user_id: 'snake' }]])(
    'prefers the camelCase spelling when both are sent, in any order (%o)',
    (input) => {
      expect(camelizeKeys(input)).toEqual({ userId: 'camel' });
    },
  );

  it('leaves scalars alone', () => {
    expect(camelizeKeys('a_b')).toBe('a_b');
    expect(camelizeKeys(null)).toBeNull();
    expect(camelizeKeys(undefined)).toBeUndefined();
  });
});
