import { floatOf, integerIn, isBase64, rfc3339Millis } from './proto-json-scalars';

describe(rfc3339Millis.name, () => {
  it.each([
    ['2030-01-01T00:00:00Z', '2030-01-01T00:00:00.000Z'],
    ['2030-01-01T00:00:00.5Z', '2030-01-01T00:00:00.500Z'],
    ['2030-01-01T00:00:00.123456789Z', '2030-01-01T00:00:00.123Z'],
    ['2030-01-01T01:30:00+01:30', '2030-01-01T00:00:00.000Z'],
    ['2029-12-31T23:00:00-01:00', '2030-01-01T00:00:00.000Z'],
    ['2028-02-29T00:00:00Z', '2028-02-29T00:00:00.000Z'],
    ['2000-02-29T00:00:00Z', '2000-02-29T00:00:00.000Z'],
    ['0001-01-01T00:00:00Z', '0001-01-01T00:00:00.000Z'],
    ['0099-06-01T00:00:00Z', '0099-06-01T00:00:00.000Z'],
    ['9999-12-31T23:59:59.999999999Z', '9999-12-31T23:59:59.999Z'],
  ])('reads %s', (text, iso) => {
    expect(new Date(rfc3339Millis(text)!).toISOString()).toBe(iso);
  });

  it.each([
    '2099-01-01 00:00:00',
    '2099-01-01',
    '2099-01-01T00:00:00',
    '2099-01-01t00:00:00z',
    '2099-01-01T00:00Z',
    '2099-01-01T00:00:00.Z',
    '2099-01-01T00:00:00.1234567891Z',
    '2099-01-01T00:00:00+0100',
    '2099-01-01T00:00:00+24:00',
    '2099-13-01T00:00:00Z',
    '2099-00-01T00:00:00Z',
    '2099-02-29T00:00:00Z',
    '1900-02-29T00:00:00Z',
    '2099-04-31T00:00:00Z',
    '2099-01-01T24:00:00Z',
    '2099-01-01T00:60:00Z',
    '2099-01-01T00:00:60Z',
    '0000-12-31T23:59:59Z',
    '0001-01-01T00:00:00+00:01',
    '9999-12-31T23:59:59-00:01',
    '+2099-01-01T00:00:00Z',
    ' 2099-01-01T00:00:00Z',
    '2099-01-01T00:00:00Z\n',
    '２０９９-01-01T00:00:00Z',
  ])('refuses %j', (text) => {
    expect(rfc3339Millis(text)).toBeUndefined();
  });
});

describe(isBase64.name, () => {
  it.each(['', 'dg==', 'dg', 'dmFsdWU=', 'dmFsdWU', 'a+/b', 'a-_b', '_-8=', 'AAAA'])('accepts %j', (text) => {
    expect(isBase64(text)).toBe(true);
  });

  it.each(['a', 'a===', '====', 'dg=', 'd=g=', 'not base64!', 'a+-b', 'dg==\n', 'd g=', 'dmFsdWU=x'])(
    'refuses %j',
    (text) => {
      expect(isBase64(text)).toBe(false);
    },
  );
});

describe(integerIn.name, () => {
  const INT32: [bigint, bigint] = [-(2n ** 31n), 2n ** 31n - 1n];

  it.each([
    [1, 1n],
    ['1', 1n],
    ['-2147483648', -(2n ** 31n)],
    [1e3, 1000n],
    [2147483647, 2n ** 31n - 1n],
  ])('reads %j', (value, expected) => {
    expect(integerIn(value, ...INT32)).toBe(expected);
  });

  it.each([1.5, '1.5', '', ' 1', '0x1', 2147483648, true, null, [1], {}, NaN, Infinity])('refuses %j', (value) => {
    expect(integerIn(value, ...INT32)).toBeUndefined();
  });

  it('keeps 64-bit values exact', () => {
    expect(integerIn('18446744073709551615', 0n, 2n ** 64n - 1n)).toBe(2n ** 64n - 1n);
    expect(integerIn('18446744073709551616', 0n, 2n ** 64n - 1n)).toBeUndefined();
  });
});

describe(floatOf.name, () => {
  it.each([
    [1.5, 1.5],
    ['1.5', 1.5],
    ['-2e3', -2000],
    ['.5', 0.5],
    ['Infinity', Infinity],
    ['-Infinity', -Infinity],
  ])('reads %j', (value, expected) => {
    expect(floatOf(value)).toBe(expected);
  });

  it('reads "NaN"', () => {
    expect(floatOf('NaN')).toBeNaN();
  });

  it.each(['', 'abc', '1,5', 'infinity', true, null, [1]])('refuses %j', (value) => {
    expect(floatOf(value)).toBeUndefined();
  });
});
