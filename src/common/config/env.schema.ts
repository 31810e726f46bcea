import { plainToInstance, Transform } from 'class-transformer';
import {
  IsIn,
  IsInt,
  IsNumber,
  IsOptional,
  IsString,
  Matches,
  Max,
  Min,
  validateSync,
  ValidationError,
} from 'class-validator';
import { parseDuration } from './duration';
import { parseCidr } from '../throttle/address-set';

const toInt = ({ value }: { value: unknown }) =>
  typeof value === 'string' && /^-?\d+$/.test(value.trim()) ? Number(value) : value;
const toDurationMs = ({ value }: { value: unknown }) =>
  typeof value === 'string' || typeof value === 'number' ? parseDuration(value) : value;
/** An integer setting: one message that names the variable and its range. */
function IntRange(min: number, max: number): PropertyDecorator {
  return (target, key) => {
    const message = `${String(key)} must be an integer between ${min} and ${max}`;
    Transform(toInt)(target, key);
    IsInt({ message })(target, key);
    Min(min, { message })(target, key);
    Max(max, { message })(target, key);
  };
}
/** A duration setting ("10m", "30s", "500ms" or whole seconds), held in milliseconds. */
function DurationRange(min: string, minMs: number, max: string, maxMs: number): PropertyDecorator {
  return (target, key) => {
    const message = `${String(key)} must be a duration between ${min} and ${max} (e.g. 30s, 10m)`;
    Transform(toDurationMs)(target, key);
    IsInt({ message })(target, key);
    Min(minMs, { message })(target, key);
    Max(maxMs, { message })(target, key);
  };
}
const emptyToUndefined = ({ value }: { value: unknown }) =>
  typeof value === 'string' && value.trim() === '' ? undefined : value;

/**
 * Every setting the service reads. Each one is documented in the README's configuration table;
 * a value outside its bounds stops start-up with a message naming the variable and the range.
 */
export class EnvironmentVariables {
  /** Read by main.ts before everything else (see env-file.ts); here so that it is documented and checked. */
  @IsString()
  ENV_FILE = '.env';

  @IsIn(['development', 'production', 'test'])
  NODE_ENV: 'development' | 'production' | 'test' = 'development';

  @IntRange(0, 65535)
  PORT = 8080;

  @IsString()
  HOST = '0.0.0.0';

  @IntRange(1, 65535)
  GRPC_PORT = 50051;

  /** Management listener (GET /metrics, /livez, /readyz), never the public API; 0 turns it off. */
  @IntRange(0, 65535)
  METRICS_PORT = 9464;

  /** Its address; unset, HOST's. */
  @IsOptional()
  @Transform(emptyToUndefined)
  @IsString()
  METRICS_HOST?: string = undefined;

  /** Origins allowed to call gRPC-web from a browser: "*" or a comma-separated list of origins. */
  @Matches(/^(\*|https?:\/\/[^,\s]+(,\s*https?:\/\/[^,\s]+)*)$/, {
    message: 'GRPC_WEB_CORS_ORIGINS must be "*" or a comma-separated list of http(s) origins',
  })
  GRPC_WEB_CORS_ORIGINS = '*';

  @Matches(/^(postgres(ql)?:\/\/.+|sqlite:.+|file:.+|[^:]+)$/, {
    message: 'DATABASE_URL must be a postgres:// URL, sqlite:<path> or a file path',
  })
  DATABASE_URL = './data/phone-verify.sqlite';

  /** PostgreSQL schema to use (tests run each suite in its own schema). */
  @IsOptional()
  @Transform(emptyToUndefined)
  @Matches(/^[a-z_][a-z0-9_]{0,62}$/, {
    message: 'DATABASE_SCHEMA must be a lower-case SQL identifier (a-z, 0-9, _; at most 63 characters)',
  })
  DATABASE_SCHEMA?: string = undefined;

  @IntRange(1, 100)
  DATABASE_POOL_SIZE = 10;

  /** PostgreSQL: the longest a call waits for a pooled (or new) connection before it is answered 503. */
  @DurationRange('100ms', 100, '1m', 60_000)
  DATABASE_CONNECT_TIMEOUT = 1_000;

  /** The longest one statement may take, lock waits included (PostgreSQL statement_timeout; SQLite busy timeout). */
  @DurationRange('100ms', 100, '10m', 600_000)
  DATABASE_STATEMENT_TIMEOUT = 1_000;

  /** Start-up: further attempts to reach a database that refuses, is not found or does not answer; then exit 1. */
  @IntRange(0, 1000)
  DATABASE_CONNECT_RETRIES = 10;

  /** Start-up: the pause between two of those attempts. */
  @DurationRange('100ms', 100, '1m', 60_000)
  DATABASE_CONNECT_RETRY_DELAY = 3_000;

  @IsString()
  FIRST_INSTANCE_PAT_PATH = './data/admin.pat';

  @IsString()
  FIRST_INSTANCE_ORG_NAME = 'DEFAULT';

  @IsIn(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'])
  LOG_LEVEL = 'info';

  /** 0..1023; when unset, a free node id is leased from the database at start-up. */
  @IsOptional()
  @IntRange(0, 1023)
  NODE_ID?: number = undefined;

  @IsString()
  EXTERNAL_DOMAIN = 'localhost';

  @IntRange(1024, 10 * 1024 * 1024)
  REQUEST_BODY_LIMIT = 64 * 1024;

  /** How long a stop (SIGTERM, SIGINT) may take: connections still open at 80 % of it are cut. */
  @DurationRange('1s', 1_000, '10m', 600_000)
  SHUTDOWN_TIMEOUT = 10_000;

  @IsOptional()
  @Transform(emptyToUndefined)
  @IsString()
  OIDC_ISSUER?: string = undefined;

  @IsOptional()
  @Transform(emptyToUndefined)
  @Matches(/^https?:\/\/.+/, { message: 'OIDC_JWKS_URL must be an http(s) URL' })
  OIDC_JWKS_URL?: string = undefined;

  @IsOptional()
  @Transform(emptyToUndefined)
  @IsString()
  OIDC_JWKS_FILE?: string = undefined;

  @IsOptional()
  @Transform(emptyToUndefined)
  @IsString()
  OIDC_AUDIENCE?: string = undefined;

  // ---- phone codes -------------------------------------------------------------------------
  /** "[keyId:]<base64 ≥ 32 bytes>", comma-separated for rotation: the first signs, all verify. */
  @IsOptional()
  @Transform(emptyToUndefined)
  @Matches(/^(?:[A-Za-z0-9_-]{1,32}:)?[A-Za-z0-9+/=_-]{43,}(?:,(?:[A-Za-z0-9_-]{1,32}:)?[A-Za-z0-9+/=_-]{43,})*$/, {
    message: 'CODE_HMAC_KEY must be "[keyId:]<base64 key of at least 32 bytes>", comma-separated for rotation',
  })
  CODE_HMAC_KEY?: string = undefined;

  /** Where a development key is generated when CODE_HMAC_KEY is unset (never in production). */
  @IsString()
  CODE_HMAC_KEY_FILE = './data/code-hmac.key';

  @IntRange(6, 20)
  PHONE_CODE_LENGTH = 6;

  @IsIn(['digits', 'alphanumeric'])
  PHONE_CODE_ALPHABET: 'digits' | 'alphanumeric' = 'digits';

  @Transform(toDurationMs)
  @IsInt({ message: 'PHONE_CODE_TTL must be a duration such as 10m or 30s' })
  @Min(60_000, { message: 'PHONE_CODE_TTL must be between 1m and 24h' })
  @Max(86_400_000, { message: 'PHONE_CODE_TTL must be between 1m and 24h' })
  PHONE_CODE_TTL = 600_000;

  @IntRange(1, 10)
  PHONE_CODE_MAX_ATTEMPTS = 5;

  @IntRange(1, 1000)
  PHONE_MAX_FAILED_PER_DAY = 15;

  // ---- SMS outbox and abuse limits ---------------------------------------------------------
  /** AES-256-GCM key (base64, 32 bytes) for codes waiting in the outbox; derived from CODE_HMAC_KEY when unset. */
  @IsOptional()
  @Transform(emptyToUndefined)
  @Matches(/^[A-Za-z0-9+/=_-]{43,44}$/, { message: 'SMS_OUTBOX_KEY must be 32 bytes, base64-encoded' })
  SMS_OUTBOX_KEY?: string = undefined;

  /** Optional cap on attempts per message; unset, attempts go on until the code expires or SMS_MAX_AGE passes. */
  @IsOptional()
  @IntRange(1, 1000)
  SMS_MAX_ATTEMPTS?: number = undefined;

  @DurationRange('1m', 60_000, '24h', 86_400_000)
  SMS_MAX_AGE = 600_000;

  /** First retry delay; each retry doubles it (with jitter), up to SMS_RETRY_MAX_DELAY. */
  @DurationRange('100ms', 100, '1m', 60_000)
  SMS_RETRY_BASE = 2_000;

  /** The longest pause between two attempts: how soon after an outage ends a waiting message goes out. */
  @DurationRange('1s', 1_000, '1h', 3_600_000)
  SMS_RETRY_MAX_DELAY = 60_000;

  /** Messages one instance sends at the same time (one slow send holds up no other). */
  @IntRange(1, 256)
  SMS_SEND_CONCURRENCY = 16;

  @DurationRange('50ms', 50, '1m', 60_000)
  SMS_POLL_INTERVAL = 1_000;

  /** How long a worker owns a message it is delivering before another instance may take it over. */
  @DurationRange('5s', 5_000, '10m', 600_000)
  SMS_SEND_LEASE = 60_000;

  @DurationRange('0s', 0, '1h', 3_600_000)
  SMS_RESEND_COOLDOWN = 60_000;

  @IntRange(1, 100)
  SMS_MAX_PER_USER_PER_HOUR = 5;

  @IntRange(1, 1000)
  SMS_MAX_PER_NUMBER_PER_DAY = 10;

  /** ISO 3166-1 alpha-2 codes, comma-separated; unset = every country. */
  @IsOptional()
  @Transform(emptyToUndefined)
  @Matches(/^[A-Z]{2}(\s*,\s*[A-Z]{2})*$/, {
    message: 'SMS_ALLOWED_COUNTRIES must be comma-separated ISO 3166-1 alpha-2 codes such as CH,DE',
  })
  SMS_ALLOWED_COUNTRIES?: string = undefined;

  // ---- SMS pumping guard (see docs/sms-providers.md "Pumping guard") ---------------------
  /** off: no counting; record: decide, log and count, block nothing; enforce: block. */
  @IsIn(['off', 'record', 'enforce'], { message: 'SMS_FRAUD_MODE must be off, record or enforce' })
  SMS_FRAUD_MODE: 'off' | 'record' | 'enforce' = 'record';

  /** Unverified sends per destination country in 24 h that are always tolerated. */
  @IntRange(1, 1_000_000)
  SMS_FRAUD_COUNTRY_FLOOR = 20;

  /** … per hour (the hourly threshold is at least the daily one / SMS_FRAUD_HOURLY_DIVISOR). */
  @IntRange(1, 1_000_000)
  SMS_FRAUD_COUNTRY_HOURLY_FLOOR = 3;

  /** Unverified sends per number prefix (the E.164 number without its last 4 digits) in 24 h. */
  @IntRange(1, 1_000_000)
  SMS_FRAUD_PREFIX_FLOOR = 10;

  @IntRange(1, 1_000_000)
  SMS_FRAUD_PREFIX_HOURLY_FLOOR = 3;

  /** Unverified sends per client address (an IPv6 address counts by its /64) in 24 h. */
  @IntRange(1, 1_000_000)
  SMS_FRAUD_ADDRESS_FLOOR = 10;

  /** Destination countries a client address may have unverified sends to in 24 h without one verification there. */
  @IntRange(1, 250)
  SMS_FRAUD_ADDRESS_MAX_COUNTRIES = 3;

  /** The share of normal (verified) traffic that may go unverified: thresholds are at least this × verified. */
  @Transform(({ value }: { value: unknown }) =>
    typeof value === 'string' && /^\s*\d+(\.\d+)?\s*$/.test(value) ? Number(value) : value,
  )
  @IsNumber({}, { message: 'SMS_FRAUD_VERIFIED_RATIO must be a number between 0 and 1, such as 0.2' })
  @Min(0, { message: 'SMS_FRAUD_VERIFIED_RATIO must be a number between 0 and 1, such as 0.2' })
  @Max(1, { message: 'SMS_FRAUD_VERIFIED_RATIO must be a number between 0 and 1, such as 0.2' })
  SMS_FRAUD_VERIFIED_RATIO = 0.2;

  /** The hourly threshold is at least the daily one divided by this. */
  @IntRange(1, 24)
  SMS_FRAUD_HOURLY_DIVISOR = 6;

  /** How long a verified number is remembered (it then always passes the guard). */
  @DurationRange('1d', 86_400_000, '3650d', 3_650 * 86_400_000)
  SMS_FRAUD_REMEMBER_VERIFIED = 365 * 86_400_000;

  /** Client addresses the guard never judges: comma-separated IP addresses or CIDRs. */
  @IsOptional()
  @Transform(emptyToUndefined)
  @IsString()
  SMS_FRAUD_ALLOWED_ADDRESSES?: string = undefined;

  /** Destination countries the guard never judges: ISO 3166-1 alpha-2 codes, comma-separated. */
  @IsOptional()
  @Transform(emptyToUndefined)
  @Matches(/^[A-Z]{2}(\s*,\s*[A-Z]{2})*$/, {
    message: 'SMS_FRAUD_ALLOWED_COUNTRIES must be comma-separated ISO 3166-1 alpha-2 codes such as CH,DE',
  })
  SMS_FRAUD_ALLOWED_COUNTRIES?: string = undefined;

  /** Numbers the guard never judges: E.164 numbers, or E.164 prefixes ending in * (+4179555*), comma-separated. */
  @IsOptional()
  @Transform(emptyToUndefined)
  @Matches(/^\+[1-9]\d{0,14}\*?(\s*,\s*\+[1-9]\d{0,14}\*?)*$/, {
    message:
      'SMS_FRAUD_ALLOWED_NUMBERS must be comma-separated E.164 numbers or prefixes ending in *, such as +41791234567,+4179555*',
  })
  SMS_FRAUD_ALLOWED_NUMBERS?: string = undefined;

  /** Rate-limit counters go to Redis when set (shared by every instance), else to the database. */
  @IsOptional()
  @Transform(emptyToUndefined)
  @Matches(/^rediss?:\/\/.+/, { message: 'REDIS_URL must be a redis:// or rediss:// URL' })
  REDIS_URL?: string = undefined;

  /** Deadline of each Redis command and of connecting; commands are never queued while Redis is unreachable. */
  @DurationRange('100ms', 100, '1m', 60_000)
  REDIS_TIMEOUT = 1_000;

  /** Requests per client IP per THROTTLE_WINDOW on REST, gRPC and gRPC-web; 0 turns throttling off. */
  @IntRange(0, 1_000_000)
  THROTTLE_LIMIT = 1200;

  @DurationRange('1s', 1_000, '1h', 3_600_000)
  THROTTLE_WINDOW = 60_000;

  /** Proxies whose X-Forwarded-For is believed: comma-separated IPs/CIDRs, or loopback / linklocal / uniquelocal. */
  @IsOptional()
  @Transform(emptyToUndefined)
  @Matches(/^[0-9a-fA-F.:/,\s]+$|^(loopback|linklocal|uniquelocal)(\s*,\s*[0-9a-zA-Z.:/]+)*$/, {
    message: 'TRUSTED_PROXIES must be comma-separated IP addresses or CIDRs (or loopback, linklocal, uniquelocal)',
  })
  TRUSTED_PROXIES?: string = undefined;

  @IsOptional()
  @Transform(emptyToUndefined)
  @Matches(/^[A-Z]{2}$/, {
    message: 'DEFAULT_PHONE_REGION must be an ISO 3166-1 alpha-2 code such as CH',
  })
  DEFAULT_PHONE_REGION?: string = undefined;

  /** One provider, or a comma-separated list tried in order for each message ("webhook,twilio"). */
  @Matches(/^\s*(console|none|webhook|twilio)(\s*,\s*(console|none|webhook|twilio))*\s*$/, {
    message:
      'SMS_PROVIDER must be console, none, webhook or twilio, or a comma-separated list of them (tried in order)',
  })
  SMS_PROVIDER = 'console';

  // ---- SMS providers -----------------------------------------------------------------------
  /** Where the webhook provider POSTs each message as JSON. */
  @IsOptional()
  @Transform(emptyToUndefined)
  @Matches(/^https?:\/\/[^\s/?#@]+(\/\S*)?$/, { message: 'SMS_WEBHOOK_URL must be an http(s) URL without credentials' })
  SMS_WEBHOOK_URL?: string = undefined;

  @Transform(toDurationMs)
  @IsInt({ message: 'SMS_WEBHOOK_TIMEOUT must be a duration between 1s and 60s, such as 5s' })
  @Min(1_000, { message: 'SMS_WEBHOOK_TIMEOUT must be a duration between 1s and 60s, such as 5s' })
  @Max(60_000, { message: 'SMS_WEBHOOK_TIMEOUT must be a duration between 1s and 60s, such as 5s' })
  SMS_WEBHOOK_TIMEOUT = 5_000;

  /** HMAC-SHA-256 key for the ZITADEL-Signature header; unsigned requests when unset (not in production). */
  @IsOptional()
  @Transform(emptyToUndefined)
  @Matches(/^\S{32,512}$/, {
    message: 'SMS_WEBHOOK_SIGNING_KEY must be 32 to 512 characters without spaces (e.g. openssl rand -hex 32)',
  })
  SMS_WEBHOOK_SIGNING_KEY?: string = undefined;

  /** Overridable so tests can run against a local fake of the Messages endpoint. */
  @Matches(/^https?:\/\/[^\s/?#@]+\/?$/, {
    message: 'TWILIO_BASE_URL must be an http(s) origin such as https://api.twilio.com',
  })
  TWILIO_BASE_URL = 'https://api.twilio.com';

  @IsOptional()
  @Transform(emptyToUndefined)
  @Matches(/^AC[0-9a-fA-F]{32}$/, { message: 'TWILIO_ACCOUNT_SID must be "AC" followed by 32 hex digits' })
  TWILIO_ACCOUNT_SID?: string = undefined;

  @IsOptional()
  @Transform(emptyToUndefined)
  @Matches(/^\S{16,256}$/, { message: 'TWILIO_AUTH_TOKEN must be 16 to 256 characters without spaces' })
  TWILIO_AUTH_TOKEN?: string = undefined;

  /** An E.164 number of the account, or an alphanumeric sender id (1-11 letters, digits, spaces). */
  @IsOptional()
  @Transform(emptyToUndefined)
  @Matches(/^(\+[1-9]\d{1,14}|(?=[A-Za-z0-9 ]*[A-Za-z])[A-Za-z0-9 ]{1,11})$/, {
    message:
      'TWILIO_FROM_NUMBER must be an E.164 number such as +41791234567 or an alphanumeric sender id of up to 11 characters',
  })
  TWILIO_FROM_NUMBER?: string = undefined;

  @IsOptional()
  @Transform(emptyToUndefined)
  @Matches(/^MG[0-9a-fA-F]{32}$/, { message: 'TWILIO_MESSAGING_SERVICE_SID must be "MG" followed by 32 hex digits' })
  TWILIO_MESSAGING_SERVICE_SID?: string = undefined;

  @Transform(toDurationMs)
  @IsInt({ message: 'TWILIO_TIMEOUT must be a duration between 1s and 60s, such as 5s' })
  @Min(1_000, { message: 'TWILIO_TIMEOUT must be a duration between 1s and 60s, such as 5s' })
  @Max(60_000, { message: 'TWILIO_TIMEOUT must be a duration between 1s and 60s, such as 5s' })
  TWILIO_TIMEOUT = 5_000;

  /**
   * JSON object of language tag → template with {{code}} (and optionally {{displayName}}). The phone
   * module checks it as it starts (SmsText), so that this schema needs nothing of the features.
   */
  @IsOptional()
  @Transform(emptyToUndefined)
  @IsString()
  SMS_TEMPLATES?: string = undefined;

  /** Host name for the origin-bound one-time code line "@<domain> #<code>" (WebOTP, autofill). */
  @IsOptional()
  @Transform(emptyToUndefined)
  @Matches(/^(?=.{1,253}$)[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$/, {
    message: 'SMS_WEBOTP_DOMAIN must be a lower-case host name such as example.com (no scheme, port or path)',
  })
  SMS_WEBOTP_DOMAIN?: string = undefined;
}

function describe(errors: ValidationError[]): string[] {
  // several constraints of one variable often share a message: say it once
  return errors.flatMap((e) => [...new Set(Object.values(e.constraints ?? {}))].map((m) => `${e.property}: ${m}`));
}

/** The code travels in the webhook's body: TLS, unless it never leaves the machine. */
function isHttpsOrLoopback(url: URL): boolean {
  return url.protocol === 'https:' || ['localhost', '127.0.0.1', '[::1]'].includes(url.hostname);
}

/** SMS_PROVIDER's list, and the settings of each provider it names. */
function smsProviderProblems(config: EnvironmentVariables): string[] {
  const problems: string[] = [];
  const production = config.NODE_ENV === 'production';
  const names = config.SMS_PROVIDER.split(',').map((name) => name.trim());
  if (!names.every((name) => ['console', 'none', 'webhook', 'twilio'].includes(name))) return problems; // reported above
  if (new Set(names).size !== names.length) problems.push('SMS_PROVIDER: names a provider more than once');
  // a delivery must end (every provider timing out) before its lease does, or another instance resends it
  const worstDelivery =
    (names.includes('webhook') ? config.SMS_WEBHOOK_TIMEOUT : 0) +
    (names.includes('twilio') ? config.TWILIO_TIMEOUT : 0);
  if (worstDelivery + 5_000 > config.SMS_SEND_LEASE) {
    problems.push(
      `SMS_SEND_LEASE: must exceed the providers' timeouts together plus 5s (${(worstDelivery + 5_000) / 1000}s), ` +
        'or a slow delivery could be taken over and sent twice',
    );
  }
  if (names.includes('none') && names.length > 1) {
    problems.push('SMS_PROVIDER: "none" drops every message and cannot be combined with other providers');
  }
  if (names.includes('console') && names.indexOf('console') !== names.length - 1) {
    problems.push('SMS_PROVIDER: "console" accepts every message, so it can only be the last in the list');
  }
  if (production && names.includes('console')) {
    problems.push('SMS_PROVIDER: "console" prints codes to stdout and is refused when NODE_ENV=production');
  }
  if (names.includes('webhook')) {
    const url = config.SMS_WEBHOOK_URL;
    if (!url) {
      problems.push('SMS_WEBHOOK_URL: required when SMS_PROVIDER includes webhook');
    } else if (!URL.canParse(url)) {
      problems.push('SMS_WEBHOOK_URL: SMS_WEBHOOK_URL must be an http(s) URL without credentials');
    } else if (production && !isHttpsOrLoopback(new URL(url))) {
      problems.push('SMS_WEBHOOK_URL: must be https:// when NODE_ENV=production (plain http only to localhost)');
    }
    if (production && !config.SMS_WEBHOOK_SIGNING_KEY) {
      problems.push('SMS_WEBHOOK_SIGNING_KEY: required when NODE_ENV=production and SMS_PROVIDER includes webhook');
    }
  }
  if (names.includes('twilio')) {
    if (!config.TWILIO_ACCOUNT_SID) problems.push('TWILIO_ACCOUNT_SID: required when SMS_PROVIDER includes twilio');
    if (!config.TWILIO_AUTH_TOKEN) problems.push('TWILIO_AUTH_TOKEN: required when SMS_PROVIDER includes twilio');
    if (!config.TWILIO_FROM_NUMBER === !config.TWILIO_MESSAGING_SERVICE_SID) {
      problems.push('TWILIO_FROM_NUMBER: set exactly one of TWILIO_FROM_NUMBER and TWILIO_MESSAGING_SERVICE_SID');
    }
    if (production && !config.TWILIO_BASE_URL.startsWith('https://')) {
      problems.push('TWILIO_BASE_URL: must be https:// when NODE_ENV=production');
    }
  }
  return problems;
}

/** The pumping guard's address allow-list: every entry an IP address or a CIDR. */
function fraudProblems(config: EnvironmentVariables): string[] {
  if (!config.SMS_FRAUD_ALLOWED_ADDRESSES) return [];
  const bad = config.SMS_FRAUD_ALLOWED_ADDRESSES.split(',')
    .map((entry) => entry.trim())
    .filter((entry) => parseCidr(entry) === undefined);
  return bad.length === 0
    ? []
    : [`SMS_FRAUD_ALLOWED_ADDRESSES: not an IP address or CIDR: ${bad.map((b) => JSON.stringify(b)).join(', ')}`];
}

/** The validate hook of ConfigModule: returns typed, defaulted settings or throws naming every bad variable. */
export function validateEnvironment(raw: Record<string, unknown>): EnvironmentVariables {
  const known = Object.keys(new EnvironmentVariables());
  const input: Record<string, unknown> = {};
  for (const key of known) {
    if (raw[key] !== undefined) input[key] = raw[key];
  }
  const config = plainToInstance(EnvironmentVariables, input, { exposeDefaultValues: true });
  const problems = describe(validateSync(config, { skipMissingProperties: false }));
  if (config.NODE_ENV === 'production') {
    if (!config.CODE_HMAC_KEY) problems.push('CODE_HMAC_KEY: required when NODE_ENV=production');
  }
  problems.push(...smsProviderProblems(config));
  problems.push(...fraudProblems(config));
  if (problems.length > 0) throw new ConfigError(problems);
  return config;
}

/** Settings refused at start-up: each problem starts with the variable it is about ("PORT: …"). */
export class ConfigError extends Error {
  /** the variables named, once each */
  readonly settings: string[];

  constructor(readonly problems: string[]) {
    super(`Invalid configuration:\n  ${problems.join('\n  ')}`);
    this.name = 'ConfigError';
    this.settings = [...new Set(problems.map((p) => p.split(':', 1)[0]))];
  }
}
