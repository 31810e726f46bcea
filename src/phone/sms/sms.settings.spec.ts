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

describe('SmsSettings', () => {
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
      expect(read({ SMS_RECEIPTS_BASE_URL: url }).SMS_RECEIPTS_BASE_URL).toBe(url);
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
    expect(read({ [name]: value })[name]).toBe(ms);
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
    const config = read({
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
