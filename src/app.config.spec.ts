import { validateEnvironment } from './app.config';
import { valuesByVariable } from './common/config/settings-reader';

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

describe(validateEnvironment.name, () => {
  it('fills in the documented defaults', () => {
    const config = read({});
    expect({ ...config }).toEqual({
      CHANNEL_MAX_FALLBACKS: 2,
      CHANNEL_ROUTES: undefined,
      CHANNEL_STEP_TIMEOUT: 60_000,
      CHANNEL_STEP_TIMEOUTS: undefined,
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
      EVENT_WEBHOOKS: undefined,
      WEBHOOK_MAX_AGE: 86_400_000,
      WEBHOOK_RETRY_BASE: 5_000,
      WEBHOOK_RETRY_MAX_DELAY: 3_600_000,
      WEBHOOK_TIMEOUT: 10_000,
      WEBHOOK_CONCURRENCY: 8,
      WEBHOOK_POLL_INTERVAL: 1_000,
      WEBHOOK_OUTBOX_RETENTION: 7 * 86_400_000,
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
      SMS_SPEND_MODE: 'off',
      SMS_PRICE_CURRENCY: 'EUR',
      SMS_PRICES: undefined,
      SMS_SPEND_CAPS: undefined,
      SMS_SPEND_COUNTRY_GROUPS: undefined,
      CAPTCHA_PROVIDER: 'none',
      CAPTCHA_SECRET: undefined,
      CAPTCHA_MIN_SCORE: 0.5,
      CAPTCHA_REQUIRED_FOR: 'self',
      CAPTCHA_VERIFY_URL: undefined,
      CAPTCHA_TIMEOUT: 3_000,
      SEND_HOOK_URL: undefined,
      SEND_HOOK_SECRET: undefined,
      SEND_HOOK_TIMEOUT: 2_000,
      SEND_HOOK_ON_TIMEOUT: undefined,
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
      SMS_ANDROID_APP_HASH: undefined,
      WHATSAPP_PROVIDER: undefined,
      TWILIO_WHATSAPP_FROM: undefined,
      TWILIO_WHATSAPP_CONTENT_SIDS: undefined,
      META_GRAPH_BASE_URL: 'https://graph.facebook.com',
      META_GRAPH_API_VERSION: 'v21.0',
      META_PHONE_NUMBER_ID: undefined,
      META_ACCESS_TOKEN: undefined,
      META_APP_SECRET: undefined,
      META_WEBHOOK_VERIFY_TOKEN: undefined,
      META_TEMPLATE_NAME: undefined,
      META_TEMPLATE_LANGUAGES: 'en=en_US',
      META_TIMEOUT: 5_000,
      VOICE_PROVIDER: undefined,
      VOICE_TEMPLATES: undefined,
      VOICE_LANGUAGES: undefined,
      TWILIO_VOICE_FROM: undefined,
      VONAGE_VOICE_BASE_URL: 'https://api.nexmo.com',
      VONAGE_APPLICATION_ID: undefined,
      VONAGE_PRIVATE_KEY_FILE: undefined,
      VONAGE_VOICE_FROM: undefined,
      PHONE_VERIFIER: 'local',
      TWILIO_VERIFY_BASE_URL: 'https://verify.twilio.com',
      TWILIO_VERIFY_SERVICE_SID: undefined,
      TWILIO_VERIFY_CHANNEL: 'sms',
      TWILIO_VERIFY_TIMEOUT: 5_000,
      PLIVO_VERIFY_BASE_URL: 'https://api.plivo.com',
      PLIVO_AUTH_ID: undefined,
      PLIVO_AUTH_TOKEN: undefined,
      PLIVO_VERIFY_APP_UUID: undefined,
      PLIVO_VERIFY_CHANNEL: 'sms',
      PLIVO_VERIFY_TIMEOUT: 5_000,
    });
  });

  it('converts numbers and ignores variables it does not know', () => {
    const config = read({ PORT: '9000', NODE_ID: '7', PATH: '/usr/bin', HOME: '/root' });
    expect(config.PORT).toBe(9000);
    expect(config.NODE_ID).toBe(7);
    expect(Object.keys(config)).not.toContain('PATH');
  });

  it('treats empty optional settings as unset', () => {
    const config = read({ OIDC_ISSUER: '', DATABASE_SCHEMA: ' ', CODE_HMAC_KEY: '' });
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
    expect(read({ SMS_BACKOFF_BASE: '0s', SMS_BACKOFF_MAX: '1m' }).SMS_BACKOFF_BASE).toBe(0);
  });

  it('refuses an SMS_NUMBER_CEILING_PER_DAY below one account’s SMS_MAX_PER_NUMBER_PER_DAY', () => {
    expect(() => validateEnvironment({ SMS_MAX_PER_NUMBER_PER_DAY: '10', SMS_NUMBER_CEILING_PER_DAY: '9' })).toThrow(
      'SMS_NUMBER_CEILING_PER_DAY: must be at least SMS_MAX_PER_NUMBER_PER_DAY',
    );
    expect(read({ SMS_NUMBER_CEILING_PER_DAY: '10' }).SMS_NUMBER_CEILING_PER_DAY).toBe(10);
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
    expect(read({ ...env, ...twilio, SMS_SEND_LEASE: '20s' }).SMS_SEND_LEASE).toBe(20_000);
  });

  it('reads durations of the outbox and limit settings', () => {
    const config = read({ SMS_RESEND_COOLDOWN: '0', SMS_RETRY_BASE: '500ms', THROTTLE_WINDOW: '2m' });
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
        '  LOG_LEVEL: LOG_LEVEL must be one of the following values: fatal, error, warn, info, debug, trace, silent\n' +
        '  NODE_ID: NODE_ID must be an integer between 0 and 1023\n' +
        '  PORT: PORT must be an integer between 0 and 65535',
    );
  });

  it.each([
    ['10m', 600_000],
    ['1h', 3_600_000],
    ['90', 90_000],
    ['24h', 86_400_000],
  ])('reads PHONE_CODE_TTL=%s as %i ms', (value, expected) => {
    expect(read({ PHONE_CODE_TTL: value }).PHONE_CODE_TTL).toBe(expected);
  });

  it.each(['30s', '25h'])('refuses PHONE_CODE_TTL=%s as out of bounds', (value) => {
    expect(problemsOf({ PHONE_CODE_TTL: value })).toBe(
      'Invalid configuration:\n  PHONE_CODE_TTL: PHONE_CODE_TTL must be a duration between 1m and 24h (e.g. 30s, 10m)',
    );
  });

  it('refuses an unreadable PHONE_CODE_TTL', () => {
    expect(problemsOf({ PHONE_CODE_TTL: 'soon' })).toContain(
      'PHONE_CODE_TTL: PHONE_CODE_TTL must be a duration between 1m and 24h',
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
    const config = read({ NODE_ENV: 'production', CODE_HMAC_KEY: `k1:${key}`, SMS_PROVIDER: 'none' });
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
