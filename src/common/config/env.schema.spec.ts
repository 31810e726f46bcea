import { EnvironmentVariables, validateEnvironment } from './env.schema';

/** The message validateEnvironment throws, or undefined when the settings are accepted. */
function problemsOf(env: Record<string, string>): string | undefined {
  try {
    validateEnvironment(env);
    return undefined;
  } catch (error) {
    return (error as Error).message;
  }
}

describe(EnvironmentVariables.name, () => {
  it('fills in the documented defaults', () => {
    const config = validateEnvironment({});
    expect({ ...config }).toEqual({
      NODE_ENV: 'development',
      PORT: 8080,
      HOST: '0.0.0.0',
      GRPC_PORT: 50051,
      GRPC_WEB_CORS_ORIGINS: '*',
      DATABASE_URL: './data/phone-verify.sqlite',
      DATABASE_SCHEMA: undefined,
      DATABASE_POOL_SIZE: 10,
      FIRST_INSTANCE_PAT_PATH: './data/admin.pat',
      FIRST_INSTANCE_ORG_NAME: 'DEFAULT',
      LOG_LEVEL: 'info',
      NODE_ID: undefined,
      EXTERNAL_DOMAIN: 'localhost',
      REQUEST_BODY_LIMIT: 65536,
      OIDC_ISSUER: undefined,
      OIDC_JWKS_URL: undefined,
      OIDC_JWKS_FILE: undefined,
      OIDC_AUDIENCE: undefined,
      CODE_HMAC_KEY: undefined,
      CODE_HMAC_KEY_FILE: './data/code-hmac.key',
      PHONE_CODE_LENGTH: 6,
      PHONE_CODE_ALPHABET: 'digits',
      PHONE_CODE_TTL: 600_000,
      PHONE_CODE_MAX_ATTEMPTS: 5,
      PHONE_MAX_FAILED_PER_DAY: 15,
      DEFAULT_PHONE_REGION: undefined,
      SMS_PROVIDER: 'console',
    });
  });

  it('converts numbers and ignores variables it does not know', () => {
    const config = validateEnvironment({ PORT: '9000', NODE_ID: '7', PATH: '/usr/bin', HOME: '/root' });
    expect(config.PORT).toBe(9000);
    expect(config.NODE_ID).toBe(7);
    expect(Object.keys(config)).not.toContain('PATH');
  });

  it('treats empty optional settings as unset', () => {
    const config = validateEnvironment({ OIDC_ISSUER: '', DATABASE_SCHEMA: ' ', CODE_HMAC_KEY: '' });
    expect(config.OIDC_ISSUER).toBeUndefined();
    expect(config.DATABASE_SCHEMA).toBeUndefined();
    expect(config.CODE_HMAC_KEY).toBeUndefined();
  });

  it.each([
    ['70000', 'PORT: PORT must be an integer between 0 and 65535'],
    ['-1', 'PORT: PORT must be an integer between 0 and 65535'],
    ['http', 'PORT: PORT must be an integer between 0 and 65535'],
  ])('refuses PORT=%s naming the variable and its range, once', (value, line) => {
    expect(problemsOf({ PORT: value })).toBe(`Invalid configuration:\n  ${line}`);
  });

  it('names every bad variable in one message', () => {
    expect(problemsOf({ PORT: '70000', NODE_ID: '1024', LOG_LEVEL: 'loud' })).toBe(
      'Invalid configuration:\n' +
        '  PORT: PORT must be an integer between 0 and 65535\n' +
        '  LOG_LEVEL: LOG_LEVEL must be one of the following values: fatal, error, warn, info, debug, trace, silent\n' +
        '  NODE_ID: NODE_ID must be an integer between 0 and 1023',
    );
  });

  it.each([
    ['10m', 600_000],
    ['1h', 3_600_000],
    ['90', 90_000],
    ['24h', 86_400_000],
  ])('reads PHONE_CODE_TTL=%s as %i ms', (value, expected) => {
    expect(validateEnvironment({ PHONE_CODE_TTL: value }).PHONE_CODE_TTL).toBe(expected);
  });

  it.each(['30s', '25h'])('refuses PHONE_CODE_TTL=%s as out of bounds', (value) => {
    expect(problemsOf({ PHONE_CODE_TTL: value })).toBe(
      'Invalid configuration:\n  PHONE_CODE_TTL: PHONE_CODE_TTL must be between 1m and 24h',
    );
  });

  it('refuses an unreadable PHONE_CODE_TTL', () => {
    expect(problemsOf({ PHONE_CODE_TTL: 'soon' })).toContain(
      'PHONE_CODE_TTL: PHONE_CODE_TTL must be a duration such as 10m or 30s',
    );
  });

  it('refuses production without CODE_HMAC_KEY', () => {
    expect(problemsOf({ NODE_ENV: 'production', SMS_PROVIDER: 'none' })).toBe(
      'Invalid configuration:\n  CODE_HMAC_KEY: required when NODE_ENV=production',
    );
  });

  it('refuses production with the console SMS provider', () => {
    const key = Buffer.alloc(32, 7).toString('base64');
    expect(problemsOf({ NODE_ENV: 'production', CODE_HMAC_KEY: key, SMS_PROVIDER: 'console' })).toBe(
      'Invalid configuration:\n  SMS_PROVIDER: "console" prints codes to stdout and is refused when NODE_ENV=production',
    );
  });

  it('accepts production with a key and a real provider choice', () => {
    const key = Buffer.alloc(32, 7).toString('base64');
    const config = validateEnvironment({ NODE_ENV: 'production', CODE_HMAC_KEY: `k1:${key}`, SMS_PROVIDER: 'none' });
    expect(config.NODE_ENV).toBe('production');
    expect(config.CODE_HMAC_KEY).toBe(`k1:${key}`);
  });

  it('refuses a CODE_HMAC_KEY shorter than 32 bytes', () => {
    expect(problemsOf({ CODE_HMAC_KEY: Buffer.alloc(16).toString('base64') })).toContain(
      'CODE_HMAC_KEY: CODE_HMAC_KEY must be',
    );
  });

  it.each([
    ['postgres://u@h:5432/db', true],
    ['postgresql://u@h/db', true],
    ['sqlite:./x.sqlite', true],
    ['./data/x.sqlite', true],
    ['mysql://h/db', false],
  ])('DATABASE_URL=%s accepted: %s', (url, ok) => {
    expect(problemsOf({ DATABASE_URL: url }) === undefined).toBe(ok);
  });
});
