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
      ENV_FILE: '.env',
      NODE_ENV: 'development',
      PORT: 8080,
      HOST: '0.0.0.0',
      GRPC_PORT: 50051,
      HTTP_KEEPALIVE_TIMEOUT: 65_000,
      TLS_CERT_FILE: undefined,
      TLS_KEY_FILE: undefined,
      METRICS_PORT: 9464,
      METRICS_HOST: undefined,
      GRPC_WEB_CORS_ORIGINS: '*',
      CORS_ALLOWED_ORIGINS: undefined,
      DATABASE_URL: './data/phone-verify.sqlite',
      DATABASE_SCHEMA: undefined,
      DATABASE_POOL_SIZE: 20,
      DATABASE_PREPARED_STATEMENTS: 'auto',
      DATABASE_CONNECT_TIMEOUT: 1_000,
      DATABASE_STATEMENT_TIMEOUT: 1_000,
      DATABASE_CONNECT_RETRIES: 10,
      DATABASE_CONNECT_RETRY_DELAY: 3_000,
      FIRST_INSTANCE_PAT_PATH: './data/admin.pat',
      FIRST_INSTANCE_ORG_NAME: 'DEFAULT',
      LOG_LEVEL: 'info',
      NODE_ID: undefined,
      EXTERNAL_DOMAIN: 'localhost',
      REQUEST_BODY_LIMIT: 65536,
      SHUTDOWN_TIMEOUT: 10_000,
      OIDC_ISSUER: undefined,
      OIDC_JWKS_URL: undefined,
      OIDC_JWKS_FILE: undefined,
      OIDC_AUDIENCE: undefined,
      OIDC_ALGORITHMS: 'RS256,RS384,RS512,PS256,PS384,PS512,ES256,ES384,ES512,EdDSA',
      OIDC_TOKEN_TYPES: 'at+jwt',
      CODE_HMAC_KEY: undefined,
      CODE_HMAC_KEY_FILE: './data/code-hmac.key',
      PHONE_CODE_LENGTH: 6,
      PHONE_CODE_ALPHABET: 'digits',
      PHONE_CODE_TTL: 600_000,
      PHONE_CODE_MAX_ATTEMPTS: 5,
      PHONE_MAX_FAILED_PER_DAY: 15,
      SMS_OUTBOX_KEY: undefined,
      SMS_MAX_ATTEMPTS: undefined,
      SMS_MAX_AGE: 600_000,
      SMS_RETRY_BASE: 2_000,
      SMS_RETRY_MAX_DELAY: 60_000,
      SMS_SEND_CONCURRENCY: 16,
      SMS_POLL_INTERVAL: 1_000,
      SMS_SEND_LEASE: 60_000,
      SMS_OUTBOX_RETENTION: 7 * 86_400_000,
      SMS_RECEIPT_RETENTION: 86_400_000,
      EVENT_PHONE_RETENTION: 90 * 86_400_000,
      SMS_RESEND_COOLDOWN: 60_000,
      SMS_MAX_PER_USER_PER_HOUR: 5,
      SMS_MAX_PER_NUMBER_PER_DAY: 10,
      SMS_NUMBER_CEILING_PER_DAY: undefined,
      SMS_BACKOFF_BASE: 60_000,
      SMS_BACKOFF_FREE_SENDS: 3,
      SMS_BACKOFF_MAX: 3_600_000,
      SMS_TEST_NUMBERS: undefined,
      SMS_TEST_NUMBERS_IN_PRODUCTION: false,
      SMS_ALLOWED_COUNTRIES: undefined,
      SMS_FRAUD_MODE: 'record',
      SMS_FRAUD_COUNTRY_FLOOR: 20,
      SMS_FRAUD_COUNTRY_HOURLY_FLOOR: 3,
      SMS_FRAUD_PREFIX_FLOOR: 10,
      SMS_FRAUD_PREFIX_HOURLY_FLOOR: 3,
      SMS_FRAUD_ADDRESS_FLOOR: 10,
      SMS_FRAUD_ADDRESS_MAX_COUNTRIES: 3,
      SMS_FRAUD_VERIFIED_RATIO: 0.2,
      SMS_FRAUD_HOURLY_DIVISOR: 6,
      SMS_FRAUD_REMEMBER_VERIFIED: 365 * 86_400_000,
      SMS_FRAUD_COUNTER_RETENTION: 15 * 86_400_000,
      SMS_FRAUD_ALLOWED_ADDRESSES: undefined,
      SMS_FRAUD_ALLOWED_COUNTRIES: undefined,
      SMS_FRAUD_ALLOWED_NUMBERS: undefined,
      REDIS_URL: undefined,
      REDIS_TIMEOUT: 1_000,
      THROTTLE_LIMIT: 1200,
      THROTTLE_WINDOW: 60_000,
      THROTTLE_PUBLIC_LIMIT: 12_000,
      TRUSTED_PROXIES: undefined,
      DEFAULT_PHONE_REGION: undefined,
      SMS_PROVIDER: 'console',
      SMS_ROUTES: undefined,
      SMS_SENDER_IDS: undefined,
      SMS_WEBHOOK_URL: undefined,
      SMS_WEBHOOK_TIMEOUT: 5_000,
      SMS_WEBHOOK_SIGNING_KEY: undefined,
      SMS_RECEIPTS_BASE_URL: undefined,
      TWILIO_BASE_URL: 'https://api.twilio.com',
      TWILIO_ACCOUNT_SID: undefined,
      TWILIO_AUTH_TOKEN: undefined,
      TWILIO_FROM_NUMBER: undefined,
      TWILIO_MESSAGING_SERVICE_SID: undefined,
      TWILIO_TIMEOUT: 5_000,
      VONAGE_BASE_URL: 'https://rest.nexmo.com',
      VONAGE_API_KEY: undefined,
      VONAGE_API_SECRET: undefined,
      VONAGE_SIGNATURE_SECRET: undefined,
      VONAGE_SIGNATURE_METHOD: 'sha256',
      VONAGE_FROM: undefined,
      VONAGE_TIMEOUT: 5_000,
      SNS_REGION: undefined,
      SNS_ENDPOINT: undefined,
      SNS_ACCESS_KEY_ID: undefined,
      SNS_SECRET_ACCESS_KEY: undefined,
      SNS_SENDER_ID: undefined,
      SNS_TIMEOUT: 5_000,
      MESSAGEBIRD_BASE_URL: 'https://rest.messagebird.com',
      MESSAGEBIRD_ACCESS_KEY: undefined,
      MESSAGEBIRD_SIGNING_KEY: undefined,
      MESSAGEBIRD_ORIGINATOR: undefined,
      MESSAGEBIRD_TIMEOUT: 5_000,
      SMS_TEMPLATES: undefined,
      SMS_WEBOTP_DOMAIN: undefined,
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
    ['SMS_RESEND_COOLDOWN', '2h', 'SMS_RESEND_COOLDOWN must be a duration between 0s and 1h'],
    ['SMS_BACKOFF_BASE', '2h', 'SMS_BACKOFF_BASE must be a duration between 0s and 1h (e.g. 30s, 10m)'],
    ['SMS_BACKOFF_FREE_SENDS', '0', 'SMS_BACKOFF_FREE_SENDS must be an integer between 1 and 100'],
    ['SMS_BACKOFF_MAX', '30s', 'SMS_BACKOFF_MAX must be a duration between 1m and 24h (e.g. 30s, 10m)'],
    ['SMS_NUMBER_CEILING_PER_DAY', '0', 'SMS_NUMBER_CEILING_PER_DAY must be an integer between 1 and 100000'],
    ['SMS_OUTBOX_RETENTION', '12h', 'SMS_OUTBOX_RETENTION must be a duration between 1d and 3650d (e.g. 30s, 10m)'],
    ['SMS_RECEIPT_RETENTION', '31d', 'SMS_RECEIPT_RETENTION must be a duration between 1h and 30d (e.g. 30s, 10m)'],
    [
      'SMS_FRAUD_COUNTER_RETENTION',
      '14d',
      'SMS_FRAUD_COUNTER_RETENTION must be a duration between 15d and 3650d (e.g. 30s, 10m)',
    ],
    ['EVENT_PHONE_RETENTION', '1h', 'EVENT_PHONE_RETENTION must be a duration between 1d and 3650d (e.g. 30s, 10m)'],
    ['SMS_MAX_AGE', '30s', 'SMS_MAX_AGE must be a duration between 1m and 24h'],
    ['SMS_RETRY_BASE', 'soon', 'SMS_RETRY_BASE must be a duration between 100ms and 1m'],
    ['THROTTLE_LIMIT', '-1', 'THROTTLE_LIMIT must be an integer between 0 and 1000000'],
    ['SMS_MAX_PER_USER_PER_HOUR', '0', 'SMS_MAX_PER_USER_PER_HOUR must be an integer between 1 and 100'],
    ['SMS_ALLOWED_COUNTRIES', 'ch,de', 'SMS_ALLOWED_COUNTRIES must be comma-separated ISO 3166-1 alpha-2 codes'],
    ['REDIS_URL', 'http://x', 'REDIS_URL must be a redis:// or rediss:// URL'],
    ['SMS_OUTBOX_KEY', 'short', 'SMS_OUTBOX_KEY must be 32 bytes, base64-encoded'],
  ])('refuses a bad %s and names its range', (name, value, message) => {
    expect(() => validateEnvironment({ [name]: value })).toThrow(message);
  });

  it('refuses an SMS_BACKOFF_MAX below SMS_BACKOFF_BASE, but not with the back-off off', () => {
    expect(() => validateEnvironment({ SMS_BACKOFF_BASE: '10m', SMS_BACKOFF_MAX: '5m' })).toThrow(
      'SMS_BACKOFF_MAX: must be at least SMS_BACKOFF_BASE (the first wait)',
    );
    expect(validateEnvironment({ SMS_BACKOFF_BASE: '0s', SMS_BACKOFF_MAX: '1m' }).SMS_BACKOFF_BASE).toBe(0);
  });

  it('refuses an SMS_NUMBER_CEILING_PER_DAY below one account’s SMS_MAX_PER_NUMBER_PER_DAY', () => {
    expect(() => validateEnvironment({ SMS_MAX_PER_NUMBER_PER_DAY: '10', SMS_NUMBER_CEILING_PER_DAY: '9' })).toThrow(
      'SMS_NUMBER_CEILING_PER_DAY: must be at least SMS_MAX_PER_NUMBER_PER_DAY',
    );
    expect(validateEnvironment({ SMS_NUMBER_CEILING_PER_DAY: '10' }).SMS_NUMBER_CEILING_PER_DAY).toBe(10);
  });

  it('refuses a send lease shorter than the providers could take together', () => {
    const env = { SMS_PROVIDER: 'webhook,twilio', SMS_WEBHOOK_URL: 'http://127.0.0.1:9/sms' };
    const twilio = {
      TWILIO_ACCOUNT_SID: `AC${'a'.repeat(32)}`,
      TWILIO_AUTH_TOKEN: 'x'.repeat(32),
      TWILIO_FROM_NUMBER: '+41791234567',
    };
    expect(() =>
      validateEnvironment({
        ...env,
        ...twilio,
        SMS_WEBHOOK_TIMEOUT: '30s',
        TWILIO_TIMEOUT: '30s',
        SMS_SEND_LEASE: '60s',
      }),
    ).toThrow("SMS_SEND_LEASE: must exceed the providers' timeouts together plus 5s (65s)");
    expect(validateEnvironment({ ...env, ...twilio, SMS_SEND_LEASE: '20s' }).SMS_SEND_LEASE).toBe(20_000);
  });

  it('reads durations of the outbox and limit settings', () => {
    const config = validateEnvironment({ SMS_RESEND_COOLDOWN: '0', SMS_RETRY_BASE: '500ms', THROTTLE_WINDOW: '2m' });
    expect([config.SMS_RESEND_COOLDOWN, config.SMS_RETRY_BASE, config.THROTTLE_WINDOW]).toEqual([0, 500, 120_000]);
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

describe('EnvironmentVariables: SMS providers', () => {
  const key = Buffer.alloc(32, 7).toString('base64');
  const production = { NODE_ENV: 'production', CODE_HMAC_KEY: key };
  const twilio = {
    TWILIO_ACCOUNT_SID: 'AC0123456789abcdef0123456789abcdef',
    TWILIO_AUTH_TOKEN: 'f0e1d2c3b4a5968778695a4b3c2d1e0f',
    TWILIO_FROM_NUMBER: '+15005550006',
  };
  const webhook = {
    SMS_WEBHOOK_URL: 'https://sms.example.com/hook',
    SMS_WEBHOOK_SIGNING_KEY: 'k'.repeat(32),
  };

  it.each(['console', 'none', 'webhook', 'twilio', 'webhook,twilio', ' twilio , webhook ', 'webhook,twilio,console'])(
    'accepts SMS_PROVIDER=%p with its settings',
    (provider) => {
      expect(problemsOf({ SMS_PROVIDER: provider, ...webhook, ...twilio })).toBeUndefined();
    },
  );

  it.each(['sms', 'webhook;twilio', 'webhook,', ',twilio', 'Twilio', ''])('refuses SMS_PROVIDER=%p', (provider) => {
    expect(problemsOf({ SMS_PROVIDER: provider, ...webhook, ...twilio })).toBe(
      'Invalid configuration:\n  SMS_PROVIDER: SMS_PROVIDER must be console, none, webhook, twilio, vonage, sns or messagebird, ' +
        'or a comma-separated list of them (tried in order)',
    );
  });

  it.each([
    ['webhook,twilio,webhook', 'SMS_PROVIDER: names a provider more than once'],
    ['twilio,none', 'SMS_PROVIDER: "none" drops every message and cannot be combined with other providers'],
    ['console,twilio', 'SMS_PROVIDER: "console" accepts every message, so it can only be the last in the list'],
  ])('refuses SMS_PROVIDER=%p', (provider, line) => {
    expect(problemsOf({ SMS_PROVIDER: provider, ...twilio, ...webhook })).toBe(`Invalid configuration:\n  ${line}`);
  });

  it('refuses console in production also inside a list', () => {
    expect(problemsOf({ ...production, SMS_PROVIDER: 'twilio,console', ...twilio })).toBe(
      'Invalid configuration:\n  SMS_PROVIDER: "console" prints codes to stdout and is refused when NODE_ENV=production',
    );
  });

  it('needs SMS_WEBHOOK_URL for the webhook provider', () => {
    expect(problemsOf({ SMS_PROVIDER: 'webhook' })).toBe(
      'Invalid configuration:\n  SMS_WEBHOOK_URL: required when SMS_PROVIDER includes webhook',
    );
  });

  it.each(['ftp://example.com/hook', 'https://user:pw@example.com/hook', 'example.com/hook', 'https://exa mple.com'])(
    'refuses SMS_WEBHOOK_URL=%p',
    (url) => {
      expect(problemsOf({ SMS_PROVIDER: 'webhook', SMS_WEBHOOK_URL: url })).toContain(
        'SMS_WEBHOOK_URL: SMS_WEBHOOK_URL must be an http(s) URL without credentials',
      );
    },
  );

  it('in production, needs https and a signing key for the webhook', () => {
    expect(problemsOf({ ...production, SMS_PROVIDER: 'webhook', SMS_WEBHOOK_URL: 'http://sms.example.com/hook' })).toBe(
      'Invalid configuration:\n' +
        '  SMS_WEBHOOK_URL: must be https:// when NODE_ENV=production (plain http only to localhost)\n' +
        '  SMS_WEBHOOK_SIGNING_KEY: required when NODE_ENV=production and SMS_PROVIDER includes webhook',
    );
  });

  it.each(['https://sms.example.com/hook', 'http://localhost:9000/hook', 'http://127.0.0.1/hook', 'http://[::1]:81/'])(
    'accepts SMS_WEBHOOK_URL=%p in production',
    (url) => {
      expect(problemsOf({ ...production, SMS_PROVIDER: 'webhook', ...webhook, SMS_WEBHOOK_URL: url })).toBeUndefined();
    },
  );

  it('refuses http to a host that only starts like localhost in production', () => {
    expect(
      problemsOf({ ...production, SMS_PROVIDER: 'webhook', ...webhook, SMS_WEBHOOK_URL: 'http://localhost.evil.com/' }),
    ).toContain('SMS_WEBHOOK_URL: must be https://');
  });

  it.each(['https://verify.example.com', 'https://example.com/pv/', 'http://127.0.0.1:3000'])(
    'accepts SMS_RECEIPTS_BASE_URL=%p',
    (url) => {
      expect(validateEnvironment({ SMS_RECEIPTS_BASE_URL: url }).SMS_RECEIPTS_BASE_URL).toBe(url);
    },
  );

  it.each([
    'verify.example.com',
    'https://u:p@example.com',
    'https://example.com/?x=1',
    'https://example.com/#f',
    'ftp://x',
  ])('refuses SMS_RECEIPTS_BASE_URL=%p', (url) => {
    expect(problemsOf({ SMS_RECEIPTS_BASE_URL: url })).toContain(
      'SMS_RECEIPTS_BASE_URL: SMS_RECEIPTS_BASE_URL must be an http(s) URL without credentials, query or fragment',
    );
  });

  it('in production, needs https for SMS_RECEIPTS_BASE_URL', () => {
    const env = { ...production, SMS_PROVIDER: 'twilio', ...twilio };
    expect(problemsOf({ ...env, SMS_RECEIPTS_BASE_URL: 'http://verify.example.com' })).toContain(
      'SMS_RECEIPTS_BASE_URL: must be https:// when NODE_ENV=production',
    );
    expect(problemsOf({ ...env, SMS_RECEIPTS_BASE_URL: 'https://verify.example.com' })).toBeUndefined();
  });

  it('refuses a short signing key', () => {
    expect(problemsOf({ SMS_WEBHOOK_SIGNING_KEY: 'short' })).toBe(
      'Invalid configuration:\n  SMS_WEBHOOK_SIGNING_KEY: SMS_WEBHOOK_SIGNING_KEY must be 32 to 512 characters ' +
        'without spaces (e.g. openssl rand -hex 32)',
    );
  });

  it.each([
    ['SMS_WEBHOOK_TIMEOUT', '5s', 5_000],
    ['SMS_WEBHOOK_TIMEOUT', '1500ms', 1_500],
    ['SMS_WEBHOOK_TIMEOUT', '60', 60_000],
    ['TWILIO_TIMEOUT', '1s', 1_000],
    ['TWILIO_TIMEOUT', '1m', 60_000],
  ])('reads %s=%s as %i ms', (name, value, ms) => {
    expect(validateEnvironment({ [name]: value })[name as 'TWILIO_TIMEOUT']).toBe(ms);
  });

  it.each([
    ['SMS_WEBHOOK_TIMEOUT', '500ms'],
    ['SMS_WEBHOOK_TIMEOUT', '61s'],
    ['SMS_WEBHOOK_TIMEOUT', 'soon'],
    ['TWILIO_TIMEOUT', '0'],
    ['TWILIO_TIMEOUT', '2m'],
  ])('refuses %s=%s naming the bounds', (name, value) => {
    expect(problemsOf({ [name]: value })).toBe(
      `Invalid configuration:\n  ${name}: ${name} must be a duration between 1s and 60s, such as 5s`,
    );
  });

  it('needs the account SID, the auth token and a sender for Twilio', () => {
    expect(problemsOf({ SMS_PROVIDER: 'twilio' })).toBe(
      'Invalid configuration:\n' +
        '  TWILIO_ACCOUNT_SID: required when SMS_PROVIDER includes twilio\n' +
        '  TWILIO_AUTH_TOKEN: required when SMS_PROVIDER includes twilio\n' +
        '  TWILIO_FROM_NUMBER: set exactly one of TWILIO_FROM_NUMBER and TWILIO_MESSAGING_SERVICE_SID',
    );
  });

  it('refuses both a From number and a messaging service', () => {
    expect(
      problemsOf({
        SMS_PROVIDER: 'twilio',
        ...twilio,
        TWILIO_MESSAGING_SERVICE_SID: 'MG0123456789abcdef0123456789abcdef',
      }),
    ).toBe(
      'Invalid configuration:\n  TWILIO_FROM_NUMBER: set exactly one of TWILIO_FROM_NUMBER and TWILIO_MESSAGING_SERVICE_SID',
    );
  });

  it('accepts a messaging service instead of a From number', () => {
    const config = validateEnvironment({
      SMS_PROVIDER: 'twilio',
      ...twilio,
      TWILIO_FROM_NUMBER: '',
      TWILIO_MESSAGING_SERVICE_SID: 'MG0123456789abcdef0123456789abcdef',
    });
    expect(config.TWILIO_FROM_NUMBER).toBeUndefined();
  });

  it.each([
    ['TWILIO_ACCOUNT_SID', 'AC123', 'TWILIO_ACCOUNT_SID must be "AC" followed by 32 hex digits'],
    [
      'TWILIO_MESSAGING_SERVICE_SID',
      'AC0123456789abcdef0123456789abcdef',
      'TWILIO_MESSAGING_SERVICE_SID must be "MG" followed by 32 hex digits',
    ],
    ['TWILIO_AUTH_TOKEN', 'has spaces in it', 'TWILIO_AUTH_TOKEN must be 16 to 256 characters without spaces'],
    ['TWILIO_FROM_NUMBER', '0791234567', 'TWILIO_FROM_NUMBER must be an E.164 number'],
    ['TWILIO_FROM_NUMBER', '12345', 'TWILIO_FROM_NUMBER must be an E.164 number'],
    ['TWILIO_FROM_NUMBER', 'TooLongSender', 'TWILIO_FROM_NUMBER must be an E.164 number'],
    ['TWILIO_BASE_URL', 'https://api.twilio.com/2010-04-01', 'TWILIO_BASE_URL must be an http(s) origin'],
  ])('refuses %s=%p', (name, value, problem) => {
    expect(problemsOf({ [name]: value })).toContain(`${name}: ${problem}`);
  });

  it.each(['+41791234567', 'ACME', 'Acme Bank 1'])('accepts TWILIO_FROM_NUMBER=%p', (from) => {
    expect(problemsOf({ TWILIO_FROM_NUMBER: from })).toBeUndefined();
  });

  it('in production, needs https for Twilio', () => {
    expect(
      problemsOf({ ...production, SMS_PROVIDER: 'twilio', ...twilio, TWILIO_BASE_URL: 'http://127.0.0.1:8' }),
    ).toBe('Invalid configuration:\n  TWILIO_BASE_URL: must be https:// when NODE_ENV=production');
  });

  it.each([
    ['example.com', true],
    ['accounts.example-company.co.uk', true],
    ['localhost', true],
    ['https://example.com', false],
    ['example.com:443', false],
    ['example.com/path', false],
    ['Example.com', false],
    ['-bad.example.com', false],
  ])('SMS_WEBOTP_DOMAIN=%p accepted: %s', (domain, ok) => {
    expect(problemsOf({ SMS_WEBOTP_DOMAIN: domain }) === undefined).toBe(ok);
  });
});

describe('SMS_ROUTES, SMS_SENDER_IDS and the Vonage and MessageBird settings', () => {
  const vonage = { VONAGE_API_KEY: 'a1b2c3d4', VONAGE_API_SECRET: 'Zx9Yw8Vu7Ts6Rq5P', VONAGE_FROM: 'MyApp' };
  const messagebird = { MESSAGEBIRD_ACCESS_KEY: 'live_0123456789abcdef', MESSAGEBIRD_ORIGINATOR: 'MyApp' };
  const webhook = { SMS_WEBHOOK_URL: 'http://127.0.0.1:9/sms' };
  const production = { NODE_ENV: 'production', CODE_HMAC_KEY: Buffer.alloc(32, 7).toString('base64') };

  it.each(['vonage', 'messagebird', 'vonage,messagebird,console'])('accepts SMS_PROVIDER=%p with its settings', (p) => {
    expect(problemsOf({ SMS_PROVIDER: p, ...vonage, ...messagebird })).toBeUndefined();
  });

  it('accepts routes per country, with a default of their own or SMS_PROVIDER as the default', () => {
    expect(
      problemsOf({
        SMS_ROUTES: 'CH=vonage,messagebird; US=messagebird;*=webhook;',
        ...vonage,
        ...messagebird,
        ...webhook,
      }),
    ).toBeUndefined();
    expect(problemsOf({ SMS_PROVIDER: 'webhook', SMS_ROUTES: 'CH=vonage', ...vonage, ...webhook })).toBeUndefined();
  });

  it('does not check SMS_PROVIDER when SMS_ROUTES has its own default (console is no problem in production then)', () => {
    expect(
      problemsOf({ ...production, SMS_ROUTES: 'CH=vonage;*=messagebird', ...vonage, ...messagebird }),
    ).toBeUndefined();
  });

  it.each([
    ['CH:vonage', 'SMS_ROUTES: "CH:vonage" is not KEY=value'],
    ['ch=vonage', 'SMS_ROUTES: "ch=vonage" is not KEY=value'],
    ['CHE=vonage', 'SMS_ROUTES: "CHE=vonage" is not KEY=value'],
    ['CH=vonage;;US=vonage', 'SMS_ROUTES: "" is not KEY=value'],
    ['CH=vonage;CH=messagebird', 'SMS_ROUTES: CH appears more than once'],
  ])('refuses SMS_ROUTES=%p saying how to write it', (routes, start) => {
    const message = problemsOf({ SMS_ROUTES: routes, ...vonage, ...messagebird });
    expect(message).toContain(`Invalid configuration:\n  ${start}; write entries such as CH=twilio,vonage`);
  });

  it('names an unknown provider of a route', () => {
    expect(problemsOf({ SMS_ROUTES: 'CH=vonage,sms77', ...vonage })).toBe(
      'Invalid configuration:\n  SMS_ROUTES: CH: unknown provider "sms77" (known: console, none, webhook, twilio, vonage, sns, messagebird)',
    );
  });

  it('applies the list rules to every route', () => {
    expect(problemsOf({ ...production, SMS_ROUTES: 'CH=vonage,vonage;US=console;*=none,vonage', ...vonage })).toBe(
      'Invalid configuration:\n' +
        '  SMS_ROUTES: CH: names a provider more than once\n' +
        '  SMS_ROUTES: US: "console" prints codes to stdout and is refused when NODE_ENV=production\n' +
        '  SMS_ROUTES: *: "none" drops every message and cannot be combined with other providers',
    );
  });

  it('needs the settings of every provider a route names', () => {
    expect(problemsOf({ SMS_ROUTES: 'CH=vonage;US=messagebird,webhook' })).toBe(
      'Invalid configuration:\n' +
        '  SMS_WEBHOOK_URL: required when SMS_ROUTES includes webhook\n' +
        '  VONAGE_API_KEY: required when SMS_ROUTES includes vonage\n' +
        '  VONAGE_API_SECRET: VONAGE_API_SECRET or VONAGE_SIGNATURE_SECRET is required when SMS_ROUTES includes vonage\n' +
        '  VONAGE_FROM: required when SMS_ROUTES includes vonage\n' +
        '  MESSAGEBIRD_ACCESS_KEY: required when SMS_ROUTES includes messagebird\n' +
        '  MESSAGEBIRD_ORIGINATOR: required when SMS_ROUTES includes messagebird',
    );
  });

  it('accepts the signature secret instead of the api secret for Vonage', () => {
    expect(
      problemsOf({
        SMS_PROVIDER: 'vonage',
        ...vonage,
        VONAGE_API_SECRET: '',
        VONAGE_SIGNATURE_SECRET: 's'.repeat(32),
        VONAGE_SIGNATURE_METHOD: 'md5hash',
      }),
    ).toBeUndefined();
    expect(problemsOf({ VONAGE_SIGNATURE_METHOD: 'sha384' })).toContain(
      'VONAGE_SIGNATURE_METHOD must be md5hash, md5, sha1, sha256 or sha512',
    );
  });

  it('counts the timeouts of the slowest route against the send lease', () => {
    const env = { SMS_ROUTES: 'CH=vonage,messagebird;*=webhook', ...vonage, ...messagebird, ...webhook };
    expect(problemsOf({ ...env, VONAGE_TIMEOUT: '30s', MESSAGEBIRD_TIMEOUT: '30s' })).toBe(
      "Invalid configuration:\n  SMS_SEND_LEASE: must exceed the providers' timeouts together plus 5s (65s), " +
        'or a slow delivery could be taken over and sent twice',
    );
    expect(problemsOf({ ...env, VONAGE_TIMEOUT: '30s', SMS_WEBHOOK_TIMEOUT: '30s' })).toBeUndefined();
  });

  it.each(['CH=MyApp', 'CH=My App 1;DE=+41791234567', 'US=Acme;'])('accepts SMS_SENDER_IDS=%p', (ids) => {
    expect(problemsOf({ SMS_SENDER_IDS: ids })).toBeUndefined();
  });

  it.each([
    ['CH=MyVeryLongApp', 'CH: "MyVeryLongApp" is neither an E.164 number nor an alphanumeric sender id'],
    ['CH=My-App', 'CH: "My-App" is neither'],
    ['CH=12345', 'CH: "12345" is neither'],
    ['*=MyApp', '"*=MyApp" is not KEY=value'],
  ])('refuses SMS_SENDER_IDS=%p', (ids, problem) => {
    expect(problemsOf({ SMS_SENDER_IDS: ids })).toContain(`SMS_SENDER_IDS: ${problem}`);
  });

  it.each([
    ['VONAGE_FROM', 'TooLongSender', 'VONAGE_FROM must be an E.164 number'],
    ['MESSAGEBIRD_ORIGINATOR', '0791234567', 'MESSAGEBIRD_ORIGINATOR must be an E.164 number'],
    ['VONAGE_BASE_URL', 'https://rest.nexmo.com/sms/json', 'VONAGE_BASE_URL must be an http(s) origin'],
    ['SMS_RECEIPTS_BASE_URL', 'https://user:pw@verify.example.com', 'SMS_RECEIPTS_BASE_URL must be an http(s) URL'],
    ['SMS_RECEIPTS_BASE_URL', 'https://verify.example.com/?x=1', 'SMS_RECEIPTS_BASE_URL must be an http(s) URL'],
    ['MESSAGEBIRD_TIMEOUT', '61s', 'MESSAGEBIRD_TIMEOUT must be a duration between 1s and 60s'],
  ])('refuses %s=%p', (name, value, problem) => {
    expect(problemsOf({ [name]: value })).toContain(`${name}: ${problem}`);
  });

  it('needs a region for SNS, and both or neither of its keys', () => {
    expect(problemsOf({ SMS_ROUTES: 'US=sns;*=none', SNS_ACCESS_KEY_ID: 'AKIAIOSFODNN7EXAMPLE' })).toBe(
      'Invalid configuration:\n' +
        '  SNS_REGION: required when SMS_ROUTES includes sns\n' +
        '  SNS_ACCESS_KEY_ID: set both SNS_ACCESS_KEY_ID and SNS_SECRET_ACCESS_KEY, or neither (the default chain)',
    );
    expect(problemsOf({ SMS_PROVIDER: 'sns', SNS_REGION: 'eu-central-1' })).toBeUndefined();
    expect(problemsOf({ SMS_PROVIDER: 'sns' })).toBe(
      'Invalid configuration:\n  SNS_REGION: required when SMS_PROVIDER includes sns',
    );
  });

  it.each([
    ['SNS_REGION', 'Frankfurt', 'SNS_REGION must be an AWS region'],
    ['SNS_SENDER_ID', 'My App', 'SNS_SENDER_ID must be 1 to 11 letters and digits'],
    ['SNS_ENDPOINT', 'sns.local', 'SNS_ENDPOINT must be an http(s) origin'],
    ['SNS_TIMEOUT', '0', 'SNS_TIMEOUT must be a duration between 1s and 60s'],
  ])('refuses %s=%p', (name, value, problem) => {
    expect(problemsOf({ [name]: value })).toContain(`${name}: ${problem}`);
  });

  it('refuses a sender id with a space for a country that goes to SNS', () => {
    const env = { SNS_REGION: 'us-east-1', ...vonage };
    expect(problemsOf({ ...env, SMS_ROUTES: 'US=sns;*=vonage', SMS_SENDER_IDS: 'US=My App;CH=My App' })).toBe(
      'Invalid configuration:\n  SMS_SENDER_IDS: US: "My App" has a space, which SNS does not allow in a sender id',
    );
    expect(problemsOf({ ...env, SMS_ROUTES: 'CH=vonage;*=sns', SMS_SENDER_IDS: 'DE=My App;CH=My App' })).toBe(
      'Invalid configuration:\n  SMS_SENDER_IDS: DE: "My App" has a space, which SNS does not allow in a sender id',
    );
  });

  it('in production, needs https for Vonage, SNS, MessageBird and the receipts URL', () => {
    expect(
      problemsOf({
        ...production,
        SMS_ROUTES: 'CH=vonage;US=sns;*=messagebird',
        ...vonage,
        ...messagebird,
        SNS_REGION: 'us-east-1',
        SNS_ENDPOINT: 'http://127.0.0.1:7',
        VONAGE_BASE_URL: 'http://127.0.0.1:8',
        MESSAGEBIRD_BASE_URL: 'http://127.0.0.1:9',
        SMS_RECEIPTS_BASE_URL: 'http://verify.example.com',
      }),
    ).toBe(
      'Invalid configuration:\n' +
        '  VONAGE_BASE_URL: must be https:// when NODE_ENV=production\n' +
        '  SNS_ENDPOINT: must be https:// when NODE_ENV=production\n' +
        '  MESSAGEBIRD_BASE_URL: must be https:// when NODE_ENV=production\n' +
        '  SMS_RECEIPTS_BASE_URL: must be https:// when NODE_ENV=production',
    );
  });
});

describe('EnvironmentVariables: SMS pumping guard', () => {
  it('reads the mode, floors, ratio, memory and allow-lists', () => {
    const config = validateEnvironment({
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
