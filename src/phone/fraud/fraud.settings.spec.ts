import { validateEnvironment } from '../../app.config';
import { valuesByVariable } from '../../common/config/settings-reader';

/** The message validateEnvironment throws, or undefined when the settings are accepted. */
function problemsOf(env: Record<string, string>): string | undefined {
  try {
    validateEnvironment(env);
    return undefined;
  } catch (error) {
    return (error as Error).message;
  }
}

/** The settings as start-up reads them, by variable. */
const read = (env: Record<string, string>) => valuesByVariable(validateEnvironment(env));

describe('FraudSettings', () => {
  it('reads the mode, floors, ratio, memory and allow-lists', () => {
    const config = read({
      SMS_FRAUD_MODE: 'enforce',
      SMS_FRAUD_COUNTRY_FLOOR: '50',
      SMS_FRAUD_PREFIX_HOURLY_FLOOR: '5',
      SMS_FRAUD_VERIFIED_RATIO: '0.35',
      SMS_FRAUD_REMEMBER_VERIFIED: '30d',
      SMS_FRAUD_ALLOWED_ADDRESSES: '10.0.0.0/8, 2001:db8::/32,192.0.2.7',
      SMS_FRAUD_ALLOWED_COUNTRIES: 'CH, DE',
      SMS_FRAUD_ALLOWED_NUMBERS: '+41791234567,+4179555*',
    });
    expect(config).toMatchObject({
      SMS_FRAUD_MODE: 'enforce',
      SMS_FRAUD_COUNTRY_FLOOR: 50,
      SMS_FRAUD_PREFIX_HOURLY_FLOOR: 5,
      SMS_FRAUD_VERIFIED_RATIO: 0.35,
      SMS_FRAUD_REMEMBER_VERIFIED: 30 * 86_400_000,
    });
  });

  it.each([
    ['SMS_FRAUD_MODE', 'block', 'SMS_FRAUD_MODE must be off, record or enforce'],
    ['SMS_FRAUD_COUNTRY_FLOOR', '-1', 'SMS_FRAUD_COUNTRY_FLOOR must be an integer between 1 and 1000000'],
    ['SMS_FRAUD_PREFIX_FLOOR', '0', 'SMS_FRAUD_PREFIX_FLOOR must be an integer between 1 and 1000000'],
    ['SMS_FRAUD_ADDRESS_FLOOR', '2.5', 'SMS_FRAUD_ADDRESS_FLOOR must be an integer between 1 and 1000000'],
    ['SMS_FRAUD_HOURLY_DIVISOR', '0', 'SMS_FRAUD_HOURLY_DIVISOR must be an integer between 1 and 24'],
    ['SMS_FRAUD_VERIFIED_RATIO', '1.5', 'SMS_FRAUD_VERIFIED_RATIO must be a number between 0 and 1, such as 0.2'],
    ['SMS_FRAUD_VERIFIED_RATIO', '-0.1', 'SMS_FRAUD_VERIFIED_RATIO must be a number between 0 and 1, such as 0.2'],
    ['SMS_FRAUD_REMEMBER_VERIFIED', '1h', 'SMS_FRAUD_REMEMBER_VERIFIED must be a duration between 1d and 3650d'],
    ['SMS_FRAUD_ALLOWED_COUNTRIES', 'ch', 'SMS_FRAUD_ALLOWED_COUNTRIES must be comma-separated ISO 3166-1'],
    ['SMS_FRAUD_ALLOWED_NUMBERS', '+41*79', 'SMS_FRAUD_ALLOWED_NUMBERS must be comma-separated E.164 numbers'],
    [
      'SMS_FRAUD_ALLOWED_ADDRESSES',
      '10.0.0.0/33',
      'SMS_FRAUD_ALLOWED_ADDRESSES: not an IP address or CIDR: "10.0.0.0/33"',
    ],
    ['SMS_FRAUD_ALLOWED_ADDRESSES', '10.0.0.1,example.com', 'not an IP address or CIDR: "example.com"'],
    ['SMS_FRAUD_ALLOWED_ADDRESSES', '2001:db8::/129', 'not an IP address or CIDR: "2001:db8::/129"'],
  ])('refuses %s=%s', (name, value, message) => {
    const problems = problemsOf({ [name]: value });
    expect(problems).toContain(message);
    expect(problems).toContain(`${name}: `);
  });
});
