import { unitConfig } from '../../test/support/fakes/config';
import { ConfigError } from '../common/config/config-error';
import { parseTestNumbers, TestNumbers } from './test-numbers';

const numbers = (env: Record<string, string>) => {
  const config = unitConfig(env);
  return new TestNumbers(config.codes, config.app);
};

describe(parseTestNumbers.name, () => {
  it('reads numbers and * prefixes with their codes, ignoring spaces and an empty last entry', () => {
    expect(parseTestNumbers(' +41 79 000 00 01 = 123456 ;+41759990*=000000;', 6, 'digits')).toEqual([
      { entry: '+41 79 000 00 01', number: '+41790000001', prefix: false, code: '123456' },
      { entry: '+41759990*', number: '+41759990', prefix: true, code: '000000' },
    ]);
  });

  it('takes alphanumeric codes in upper case', () => {
    expect(parseTestNumbers('+41790000001=abc123', 6, 'alphanumeric')[0].code).toBe('ABC123');
  });

  it.each([
    ['+41790000001', '"+41790000001" has no code: write <number>=<code>, e.g. +41790000001=123456'],
    ['0790000001=123456', '"0790000001" is not an E.164 number'],
    ['+41*79=123456', '"+41*79" is not an E.164 number'],
    ['+4179000000123456=123456', 'is not an E.164 number'],
    ['+15550100001=123456', '"+15550100001" is not a valid number for its country'],
    ['+410790000001=123456', '"+410790000001" must be written in E.164 form: +41790000001'],
    ['+41790000001=12345', 'the code of "+41790000001" must be 6 digits (PHONE_CODE_LENGTH, PHONE_CODE_ALPHABET)'],
    ['+41790000001=12345a', 'must be 6 digits'],
    ['+41790000001=123456;+41 790000001=111111', '"+41 790000001" is listed twice'],
    [' ; ', 'lists no number'],
    // a prefix names its country and 6 digits more: "+4*" would exempt a continent from every send limit
    [
      '+4*=123456',
      'the prefix "+4*" must start with a country calling code and name at least 6 more digits (e.g. +41777777*)',
    ],
    [
      '+41*=123456',
      'the prefix "+41*" must start with a country calling code and name at least 6 more digits (e.g. +41777777*)',
    ],
    [
      '+4175999*=123456',
      'the prefix "+4175999*" must start with a country calling code and name at least 6 more digits',
    ],
    [
      '+1555*=123456',
      'the prefix "+1555*" must start with a country calling code and name at least 6 more digits (e.g. +1777777*)',
    ],
    ['+999123456*=123456', 'the prefix "+999123456*" must start with a country calling code'],
  ])('refuses %j', (raw, message) => {
    expect(() => parseTestNumbers(raw, 6, 'digits')).toThrow(message);
  });

  it('follows PHONE_CODE_LENGTH', () => {
    expect(() => parseTestNumbers('+41790000001=123456', 8, 'digits')).toThrow('must be 8 digits');
    expect(() => parseTestNumbers('+41790000001=ABCDEFG!', 8, 'alphanumeric')).toThrow('must be 8 letters or digits');
  });
});

describe(TestNumbers.name, () => {
  it('knows no test number when SMS_TEST_NUMBERS is unset', () => {
    expect(numbers({}).codeFor('+41790000001')).toBeUndefined();
  });

  it('gives the fixed code of a listed number, the exact entry over a prefix, the longest prefix first', () => {
    const sut = numbers({
      SMS_TEST_NUMBERS: '+41790000*=111111;+417900000*=222222;+41790000001=333333;+1555010*=444444',
    });
    expect(sut.codeFor('+41790000001')).toBe('333333');
    expect(sut.codeFor('+41790000002')).toBe('222222');
    expect(sut.codeFor('+41790000123')).toBe('111111');
    expect(sut.codeFor('+41781234567')).toBeUndefined();
    // a prefix is not checked against the numbering plan (it may cover valid numbers)
    expect(sut.codeFor('+15550100001')).toBe('444444');
  });

  it('stops start-up with a ConfigError naming SMS_TEST_NUMBERS when the list cannot be used', () => {
    const error = (() => {
      try {
        numbers({ SMS_TEST_NUMBERS: '+41790000001=1234' });
      } catch (e) {
        return e;
      }
    })() as ConfigError;
    expect(error).toBeInstanceOf(ConfigError);
    expect(error.settings).toEqual(['SMS_TEST_NUMBERS']);
    expect(error.problems).toEqual([
      'SMS_TEST_NUMBERS: the code of "+41790000001" must be 6 digits (PHONE_CODE_LENGTH, PHONE_CODE_ALPHABET)',
    ]);
  });

  it('refuses test numbers in production unless SMS_TEST_NUMBERS_IN_PRODUCTION=true', () => {
    const production = { NODE_ENV: 'production', SMS_PROVIDER: 'none', SMS_TEST_NUMBERS: '+41790000001=123456' };
    expect(() => numbers(production)).toThrow(
      'SMS_TEST_NUMBERS: test numbers are refused when NODE_ENV=production; set SMS_TEST_NUMBERS_IN_PRODUCTION=true',
    );
    expect(() => numbers({ ...production, SMS_TEST_NUMBERS_IN_PRODUCTION: 'false' })).toThrow(ConfigError);
    expect(numbers({ ...production, SMS_TEST_NUMBERS_IN_PRODUCTION: 'true' }).codeFor('+41790000001')).toBe('123456');
    // nothing to refuse without test numbers
    expect(() => numbers({ NODE_ENV: 'production', SMS_PROVIDER: 'none' })).not.toThrow();
  });

  it('accepts SMS_TEST_NUMBERS_IN_PRODUCTION only as true or false', () => {
    expect(() => unitConfig({ SMS_TEST_NUMBERS_IN_PRODUCTION: 'yes' })).toThrow(
      'SMS_TEST_NUMBERS_IN_PRODUCTION must be true or false',
    );
    expect(unitConfig({ SMS_TEST_NUMBERS_IN_PRODUCTION: 'TRUE' }).codes.testNumbersInProduction).toBe(true);
  });
});
