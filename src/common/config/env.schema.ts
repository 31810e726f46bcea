import { plainToInstance, Transform } from 'class-transformer';
import {
  IsBoolean,
  IsIn,
  IsInt,
  IsNumber,
  IsOptional,
  IsString,
  Matches,
  Max,
  Min,
  validateSync,
  ValidateBy,
  ValidationError,
} from 'class-validator';
import { parseDuration } from './duration';
import { DEFAULT_ROUTE, parseSenderIds, parseSmsRoutes, SMS_PROVIDERS } from './sms-routes';
import { parseCidr } from '../throttle/address-set';
import { ACCESS_TOKEN_ALGORITHMS, ACCESS_TOKEN_TYPE } from '../auth/access-token-verifier';
import { REDIS_URL_FORMS, redisUrlProblem } from '../limits/redis-url';

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
const toBoolean = ({ value }: { value: unknown }) =>
  typeof value === 'string' && /^(true|false)$/i.test(value.trim()) ? value.trim().toLowerCase() === 'true' : value;
const emptyToUndefined = ({ value }: { value: unknown }) =>
  typeof value === 'string' && value.trim() === '' ? undefined : value;

const PROVIDER_ALTERNATIVES = SMS_PROVIDERS.join('|');
const PROVIDER_LIST = new RegExp(`^\\s*(${PROVIDER_ALTERNATIVES})(\\s*,\\s*(${PROVIDER_ALTERNATIVES}))*\\s*$`);
const PROVIDER_NAMES = `${SMS_PROVIDERS.slice(0, -1).join(', ')} or ${SMS_PROVIDERS[SMS_PROVIDERS.length - 1]}`;
/** A provider's request timeout: 1s to 60s. */
function ProviderTimeout(): PropertyDecorator {
  return (target, key) => {
    const message = `${String(key)} must be a duration between 1s and 60s, such as 5s`;
    Transform(toDurationMs)(target, key);
    IsInt({ message })(target, key);
    Min(1_000, { message })(target, key);
    Max(60_000, { message })(target, key);
  };
}

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

  /** The separate gRPC port of earlier deployments (gRPC is also served on PORT); 0 turns it off. */
  @IntRange(0, 65535)
  GRPC_PORT = 50051;

  /** How long an idle keep-alive connection (HTTP/1.1) or HTTP/2 session stays open: above the 60 s load balancers use. */
  @DurationRange('1s', 1_000, '10m', 600_000)
  HTTP_KEEPALIVE_TIMEOUT = 65_000;

  /** PEM certificate chain and key: both set, PORT speaks TLS (ALPN h2 and http/1.1). */
  @IsOptional()
  @Transform(emptyToUndefined)
  @IsString()
  TLS_CERT_FILE?: string = undefined;

  @IsOptional()
  @Transform(emptyToUndefined)
  @IsString()
  TLS_KEY_FILE?: string = undefined;

  /** Management listener (GET /metrics, /livez, /readyz), never the public API; 0 turns it off. */
  @IntRange(0, 65535)
  METRICS_PORT = 9464;

  /** Its address; unset, 127.0.0.1 (it has no authentication): set 0.0.0.0 (or an address) for a scraper elsewhere. */
  @IsOptional()
  @Transform(emptyToUndefined)
  @IsString()
  METRICS_HOST?: string = undefined;

  /** Origins allowed to call gRPC-web from a browser: "*" or a comma-separated list of origins. */
  @Matches(/^(\*|https?:\/\/[^,\s]+(,\s*https?:\/\/[^,\s]+)*)$/, {
    message: 'GRPC_WEB_CORS_ORIGINS must be "*" or a comma-separated list of http(s) origins',
  })
  GRPC_WEB_CORS_ORIGINS = '*';

  /** Origins browsers may call every route from: "*" (the default, as ZITADEL) or a comma-separated list. Unset, GRPC_WEB_CORS_ORIGINS's. */
  @IsOptional()
  @Transform(emptyToUndefined)
  @Matches(/^(\*|https?:\/\/[^,\s]+(,\s*https?:\/\/[^,\s]+)*)$/, {
    message: 'CORS_ALLOWED_ORIGINS must be "*" or a comma-separated list of http(s) origins',
  })
  CORS_ALLOWED_ORIGINS?: string = undefined;

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
  DATABASE_POOL_SIZE = 20;

  /**
   * PostgreSQL: `on` prepares each statement once per connection; `off` for a transaction pooler
   * without prepared-statement support; `auto` prepares until the server shows such a pooler.
   */
  @IsIn(['auto', 'on', 'off'])
  DATABASE_PREPARED_STATEMENTS: 'auto' | 'on' | 'off' = 'auto';

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

  /** Required when JWTs are accepted (OIDC_JWKS_URL or OIDC_JWKS_FILE): tokens issued to other clients of the IdP are refused. */
  @IsOptional()
  @Transform(emptyToUndefined)
  @IsString()
  OIDC_AUDIENCE?: string = undefined;

  /** JWS algorithms accepted on JWT access tokens, comma-separated; only asymmetric ones, all of them by default. */
  @Matches(
    new RegExp(`^\\s*(${ACCESS_TOKEN_ALGORITHMS.join('|')})(\\s*,\\s*(${ACCESS_TOKEN_ALGORITHMS.join('|')}))*\\s*$`),
    {
      message: `OIDC_ALGORITHMS must be a comma-separated list of ${ACCESS_TOKEN_ALGORITHMS.join(', ')}`,
    },
  )
  OIDC_ALGORITHMS = ACCESS_TOKEN_ALGORITHMS.join(',');

  /** `typ` header values accepted on JWT access tokens (a token without `typ` passes); add JWT for IdPs that label every token so. */
  @Matches(/^\s*[A-Za-z0-9.+/-]+(\s*,\s*[A-Za-z0-9.+/-]+)*\s*$/, {
    message: 'OIDC_TOKEN_TYPES must be a comma-separated list of media types such as at+jwt,JWT',
  })
  OIDC_TOKEN_TYPES = ACCESS_TOKEN_TYPE;

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

  /** How long a sent, failed or skipped message (its recipient's number) is kept in sms_outbox after it ended. */
  @DurationRange('1d', 86_400_000, '3650d', 3_650 * 86_400_000)
  SMS_OUTBOX_RETENTION = 7 * 86_400_000;

  /** How long a delivery receipt waits in sms_receipts for a message it names that is not (yet) known. */
  @DurationRange('1h', 3_600_000, '30d', 30 * 86_400_000)
  SMS_RECEIPT_RETENTION = 86_400_000;

  /** After this, the phone numbers in events (phone.changed, and the prefix of send.blocked) are redacted; the events stay. */
  @DurationRange('1d', 86_400_000, '3650d', 3_650 * 86_400_000)
  EVENT_PHONE_RETENTION = 90 * 86_400_000;

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

  /** Per (number, account): one account's sends never spend another's budget for the number. */
  @IntRange(1, 1000)
  SMS_MAX_PER_NUMBER_PER_DAY = 10;

  /** SMS per number per day, all accounts together: a high bound against pumping; unset, 5 × SMS_MAX_PER_NUMBER_PER_DAY. */
  @IsOptional()
  @IntRange(1, 100_000)
  SMS_NUMBER_CEILING_PER_DAY?: number = undefined;

  /**
   * Progressive back-off per destination number: after SMS_BACKOFF_FREE_SENDS sends to a number
   * without a verification of it, each further send waits twice as long as the one before it,
   * from SMS_BACKOFF_BASE up to SMS_BACKOFF_MAX (less up to 20 % jitter). 0s turns it off.
   */
  @DurationRange('0s', 0, '1h', 3_600_000)
  SMS_BACKOFF_BASE = 60_000;

  @IntRange(1, 100)
  SMS_BACKOFF_FREE_SENDS = 3;

  @DurationRange('1m', 60_000, '24h', 86_400_000)
  SMS_BACKOFF_MAX = 3_600_000;

  /**
   * Test numbers, each with a fixed code: "+41790000001=123456;+4175999*=000000". Never sent an
   * SMS and exempt from the send limits. The phone module checks the list as it starts
   * (TestNumbers), as it does SMS_TEMPLATES.
   */
  @IsOptional()
  @Transform(emptyToUndefined)
  @IsString()
  SMS_TEST_NUMBERS?: string = undefined;

  /** SMS_TEST_NUMBERS are refused when NODE_ENV=production unless this is true. */
  @Transform(toBoolean)
  @IsBoolean({ message: 'SMS_TEST_NUMBERS_IN_PRODUCTION must be true or false' })
  SMS_TEST_NUMBERS_IN_PRODUCTION = false;

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

  /** How long the pumping guard's hourly counters are kept: at least the 15 days its rules look back at. */
  @DurationRange('15d', 15 * 86_400_000, '3650d', 3_650 * 86_400_000)
  SMS_FRAUD_COUNTER_RETENTION = 15 * 86_400_000;

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

  /**
   * Rate-limit counters go to Redis when set (shared by every instance), else to the database:
   * one server, or the primary of a Sentinel set (redis+sentinel://, see redis-url.ts).
   */
  @IsOptional()
  @Transform(emptyToUndefined)
  @ValidateBy({
    name: 'redisUrl',
    validator: {
      // the parser the client is built with: a URL accepted here is one it can connect to
      validate: (value) => typeof value === 'string' && redisUrlProblem(value) === undefined,
      defaultMessage: (args) => (typeof args?.value === 'string' && redisUrlProblem(args.value)) || REDIS_URL_FORMS,
    },
  })
  REDIS_URL?: string = undefined;

  /** Deadline of each Redis command and of connecting; commands are never queued while Redis is unreachable. */
  @DurationRange('100ms', 100, '1m', 60_000)
  REDIS_TIMEOUT = 1_000;

  /** Requests per client IP per THROTTLE_WINDOW on REST, gRPC and gRPC-web; 0 turns throttling off. */
  @IntRange(0, 1_000_000)
  THROTTLE_LIMIT = 1200;

  @DurationRange('1s', 1_000, '1h', 3_600_000)
  THROTTLE_WINDOW = 60_000;

  /** Requests per client IP per THROTTLE_WINDOW to the public routes (probes, SMS receipts), a budget of their own; 0 turns it off. */
  @IntRange(0, 10_000_000)
  THROTTLE_PUBLIC_LIMIT = 12_000;

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
  @Matches(PROVIDER_LIST, {
    message: `SMS_PROVIDER must be ${PROVIDER_NAMES}, or a comma-separated list of them (tried in order)`,
  })
  SMS_PROVIDER = 'console';

  /** Provider lists per destination country: "CH=twilio,vonage;US=sns;*=webhook"; unset, SMS_PROVIDER for all. */
  @IsOptional()
  @Transform(emptyToUndefined)
  @IsString()
  SMS_ROUTES?: string = undefined;

  /** Sender id per destination country ("CH=MyApp;DE=MyApp"), used where the provider allows one. */
  @IsOptional()
  @Transform(emptyToUndefined)
  @IsString()
  SMS_SENDER_IDS?: string = undefined;

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

  /**
   * The externally visible base URL of this service (https://verify.example.com, or with a path
   * prefix a proxy strips). Set, providers are asked for delivery receipts at
   * <base>/v2/sms/receipts/<provider>; unset, no receipts are requested and the endpoint refuses all.
   */
  @IsOptional()
  @Transform(emptyToUndefined)
  @Matches(/^https?:\/\/[^\s/?#@]+(\/[^\s?#]*)?$/, {
    message: 'SMS_RECEIPTS_BASE_URL must be an http(s) URL without credentials, query or fragment',
  })
  SMS_RECEIPTS_BASE_URL?: string = undefined;

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

  /** Overridable so tests can run against a local fake of the SMS API. */
  @Matches(/^https?:\/\/[^\s/?#@]+\/?$/, {
    message: 'VONAGE_BASE_URL must be an http(s) origin such as https://rest.nexmo.com',
  })
  VONAGE_BASE_URL = 'https://rest.nexmo.com';

  @IsOptional()
  @Transform(emptyToUndefined)
  @Matches(/^[0-9a-zA-Z]{6,32}$/, { message: 'VONAGE_API_KEY must be 6 to 32 letters and digits' })
  VONAGE_API_KEY?: string = undefined;

  @IsOptional()
  @Transform(emptyToUndefined)
  @Matches(/^\S{8,256}$/, { message: 'VONAGE_API_SECRET must be 8 to 256 characters without spaces' })
  VONAGE_API_SECRET?: string = undefined;

  /** Signs requests (instead of VONAGE_API_SECRET) and verifies delivery receipts, which are refused without it. */
  @IsOptional()
  @Transform(emptyToUndefined)
  @Matches(/^\S{16,256}$/, { message: 'VONAGE_SIGNATURE_SECRET must be 16 to 256 characters without spaces' })
  VONAGE_SIGNATURE_SECRET?: string = undefined;

  @IsIn(['md5hash', 'md5', 'sha1', 'sha256', 'sha512'], {
    message: 'VONAGE_SIGNATURE_METHOD must be md5hash, md5, sha1, sha256 or sha512 (as set in the Vonage dashboard)',
  })
  VONAGE_SIGNATURE_METHOD: 'md5hash' | 'md5' | 'sha1' | 'sha256' | 'sha512' = 'sha256';

  /** A number of the account (E.164) or an alphanumeric sender id; SMS_SENDER_IDS wins per country. */
  @IsOptional()
  @Transform(emptyToUndefined)
  @Matches(/^(\+[1-9]\d{1,14}|(?=[A-Za-z0-9 ]*[A-Za-z])[A-Za-z0-9 ]{1,11})$/, {
    message:
      'VONAGE_FROM must be an E.164 number such as +41791234567 or an alphanumeric sender id of up to 11 characters',
  })
  VONAGE_FROM?: string = undefined;

  @ProviderTimeout()
  VONAGE_TIMEOUT = 5_000;

  /** The AWS region SNS sends from, such as eu-central-1. */
  @IsOptional()
  @Transform(emptyToUndefined)
  @Matches(/^[a-z]{2}(-[a-z]+)+-\d{1,2}$/, { message: 'SNS_REGION must be an AWS region such as eu-central-1' })
  SNS_REGION?: string = undefined;

  /** Another endpoint for SNS's API (a VPC endpoint, or a local fake in tests); unset, the region's. */
  @IsOptional()
  @Transform(emptyToUndefined)
  @Matches(/^https?:\/\/[^\s/?#@]+\/?$/, { message: 'SNS_ENDPOINT must be an http(s) origin' })
  SNS_ENDPOINT?: string = undefined;

  /** With SNS_SECRET_ACCESS_KEY; both unset, the SDK's default chain (environment, files, instance or task role). */
  @IsOptional()
  @Transform(emptyToUndefined)
  @Matches(/^[A-Z0-9]{16,128}$/, {
    message: 'SNS_ACCESS_KEY_ID must be an AWS access key id (16 to 128 upper-case letters and digits)',
  })
  SNS_ACCESS_KEY_ID?: string = undefined;

  @IsOptional()
  @Transform(emptyToUndefined)
  @Matches(/^\S{16,128}$/, { message: 'SNS_SECRET_ACCESS_KEY must be 16 to 128 characters without spaces' })
  SNS_SECRET_ACCESS_KEY?: string = undefined;

  /** AWS.SNS.SMS.SenderID: 1-11 letters and digits with a letter, no spaces; SMS_SENDER_IDS wins per country. */
  @IsOptional()
  @Transform(emptyToUndefined)
  @Matches(/^(?=[A-Za-z0-9]*[A-Za-z])[A-Za-z0-9]{1,11}$/, {
    message: 'SNS_SENDER_ID must be 1 to 11 letters and digits with at least one letter (no spaces)',
  })
  SNS_SENDER_ID?: string = undefined;

  @ProviderTimeout()
  SNS_TIMEOUT = 5_000;

  /** Overridable so tests can run against a local fake of the REST API. */
  @Matches(/^https?:\/\/[^\s/?#@]+\/?$/, {
    message: 'MESSAGEBIRD_BASE_URL must be an http(s) origin such as https://rest.messagebird.com',
  })
  MESSAGEBIRD_BASE_URL = 'https://rest.messagebird.com';

  @IsOptional()
  @Transform(emptyToUndefined)
  @Matches(/^\S{16,256}$/, { message: 'MESSAGEBIRD_ACCESS_KEY must be 16 to 256 characters without spaces' })
  MESSAGEBIRD_ACCESS_KEY?: string = undefined;

  /** Verifies the MessageBird-Signature-JWT of status reports, which are refused without it. */
  @IsOptional()
  @Transform(emptyToUndefined)
  @Matches(/^\S{16,256}$/, { message: 'MESSAGEBIRD_SIGNING_KEY must be 16 to 256 characters without spaces' })
  MESSAGEBIRD_SIGNING_KEY?: string = undefined;

  /** A number (E.164) or an alphanumeric sender id; SMS_SENDER_IDS wins per country. */
  @IsOptional()
  @Transform(emptyToUndefined)
  @Matches(/^(\+[1-9]\d{1,14}|(?=[A-Za-z0-9 ]*[A-Za-z])[A-Za-z0-9 ]{1,11})$/, {
    message:
      'MESSAGEBIRD_ORIGINATOR must be an E.164 number such as +41791234567 or an alphanumeric sender id of up to 11 characters',
  })
  MESSAGEBIRD_ORIGINATOR?: string = undefined;

  @ProviderTimeout()
  MESSAGEBIRD_TIMEOUT = 5_000;

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

/** The rules of one provider list (SMS_PROVIDER's, or one route's of SMS_ROUTES); `where` names it in the messages. */
function chainProblems(where: string, names: string[], production: boolean): string[] {
  const problems: string[] = [];
  if (new Set(names).size !== names.length) problems.push(`${where}: names a provider more than once`);
  if (names.includes('none') && names.length > 1) {
    problems.push(`${where}: "none" drops every message and cannot be combined with other providers`);
  }
  if (names.includes('console') && names.indexOf('console') !== names.length - 1) {
    problems.push(`${where}: "console" accepts every message, so it can only be the last in the list`);
  }
  if (production && names.includes('console')) {
    problems.push(`${where}: "console" prints codes to stdout and is refused when NODE_ENV=production`);
  }
  return problems;
}

/** Each provider's request timeout, for the lease check. */
function providerTimeout(config: EnvironmentVariables, name: string): number {
  const timeouts: Record<string, number> = {
    webhook: config.SMS_WEBHOOK_TIMEOUT,
    twilio: config.TWILIO_TIMEOUT,
    vonage: config.VONAGE_TIMEOUT,
    sns: config.SNS_TIMEOUT,
    messagebird: config.MESSAGEBIRD_TIMEOUT,
  };
  return timeouts[name] ?? 0;
}

/** SMS_ROUTES as a list of problems, or the routes when it reads (undefined when unset). */
function routeProblems(config: EnvironmentVariables, problems: string[]): Map<string, string[]> | undefined {
  if (!config.SMS_ROUTES) return undefined;
  const routes = parseSmsRoutes(config.SMS_ROUTES);
  if (typeof routes === 'string') {
    problems.push(
      `SMS_ROUTES: ${routes}; write entries such as CH=twilio,vonage;US=sns;*=webhook (an ISO country code or *, then providers tried in order)`,
    );
    return undefined;
  }
  for (const [country, names] of routes) {
    const unknown = names.filter((name) => !(SMS_PROVIDERS as readonly string[]).includes(name));
    if (unknown.length > 0) {
      problems.push(`SMS_ROUTES: ${country}: unknown provider "${unknown[0]}" (known: ${SMS_PROVIDERS.join(', ')})`);
    }
  }
  return problems.length > 0 ? undefined : routes;
}

/** SMS_PROVIDER's list and SMS_ROUTES' lists, and the settings of each provider they name. */
function smsProviderProblems(config: EnvironmentVariables): string[] {
  const problems: string[] = [];
  const production = config.NODE_ENV === 'production';
  const names = config.SMS_PROVIDER.split(',').map((name) => name.trim());
  if (!names.every((name) => (SMS_PROVIDERS as readonly string[]).includes(name))) return problems; // reported above
  const routes = routeProblems(config, problems);
  if (problems.length > 0) return problems;
  if (config.SMS_SENDER_IDS) {
    const ids = parseSenderIds(config.SMS_SENDER_IDS);
    if (typeof ids === 'string') problems.push(`SMS_SENDER_IDS: ${ids}`);
  }
  // the chains in use: SMS_PROVIDER's unless SMS_ROUTES has its own default
  const chains: { where: string; names: string[] }[] = [];
  if (!routes?.has(DEFAULT_ROUTE)) chains.push({ where: 'SMS_PROVIDER', names });
  for (const [country, list] of routes ?? []) chains.push({ where: `SMS_ROUTES: ${country}`, names: list });
  for (const chain of chains) problems.push(...chainProblems(chain.where, chain.names, production));

  // a delivery must end (every provider of its chain timing out) before its lease does, or another instance resends it
  const worstDelivery = Math.max(
    ...chains.map((chain) => chain.names.reduce((sum, name) => sum + providerTimeout(config, name), 0)),
  );
  if (worstDelivery + 5_000 > config.SMS_SEND_LEASE) {
    problems.push(
      `SMS_SEND_LEASE: must exceed the providers' timeouts together plus 5s (${(worstDelivery + 5_000) / 1000}s), ` +
        'or a slow delivery could be taken over and sent twice',
    );
  }
  /** Which setting brings a provider in: SMS_PROVIDER when its chain is in use and names it, else SMS_ROUTES. */
  const used = (name: string) => chains.some((chain) => chain.names.includes(name));
  const by = (name: string) =>
    chains.some((chain) => chain.where === 'SMS_PROVIDER' && chain.names.includes(name))
      ? `SMS_PROVIDER includes ${name}`
      : `SMS_ROUTES includes ${name}`;

  if (used('webhook')) {
    const url = config.SMS_WEBHOOK_URL;
    if (!url) {
      problems.push(`SMS_WEBHOOK_URL: required when ${by('webhook')}`);
    } else if (!URL.canParse(url)) {
      problems.push('SMS_WEBHOOK_URL: SMS_WEBHOOK_URL must be an http(s) URL without credentials');
    } else if (production && !isHttpsOrLoopback(new URL(url))) {
      problems.push('SMS_WEBHOOK_URL: must be https:// when NODE_ENV=production (plain http only to localhost)');
    }
    if (production && !config.SMS_WEBHOOK_SIGNING_KEY) {
      problems.push(`SMS_WEBHOOK_SIGNING_KEY: required when NODE_ENV=production and ${by('webhook')}`);
    }
  }
  if (used('twilio')) {
    if (!config.TWILIO_ACCOUNT_SID) problems.push(`TWILIO_ACCOUNT_SID: required when ${by('twilio')}`);
    if (!config.TWILIO_AUTH_TOKEN) problems.push(`TWILIO_AUTH_TOKEN: required when ${by('twilio')}`);
    if (!config.TWILIO_FROM_NUMBER === !config.TWILIO_MESSAGING_SERVICE_SID) {
      problems.push('TWILIO_FROM_NUMBER: set exactly one of TWILIO_FROM_NUMBER and TWILIO_MESSAGING_SERVICE_SID');
    }
    if (production && !config.TWILIO_BASE_URL.startsWith('https://')) {
      problems.push('TWILIO_BASE_URL: must be https:// when NODE_ENV=production');
    }
  }
  if (used('vonage')) {
    if (!config.VONAGE_API_KEY) problems.push(`VONAGE_API_KEY: required when ${by('vonage')}`);
    if (!config.VONAGE_API_SECRET && !config.VONAGE_SIGNATURE_SECRET) {
      problems.push(`VONAGE_API_SECRET: VONAGE_API_SECRET or VONAGE_SIGNATURE_SECRET is required when ${by('vonage')}`);
    }
    if (!config.VONAGE_FROM) problems.push(`VONAGE_FROM: required when ${by('vonage')}`);
    if (production && !config.VONAGE_BASE_URL.startsWith('https://')) {
      problems.push('VONAGE_BASE_URL: must be https:// when NODE_ENV=production');
    }
  }
  if (used('sns')) {
    if (!config.SNS_REGION) problems.push(`SNS_REGION: required when ${by('sns')}`);
    if (!config.SNS_ACCESS_KEY_ID !== !config.SNS_SECRET_ACCESS_KEY) {
      problems.push(
        'SNS_ACCESS_KEY_ID: set both SNS_ACCESS_KEY_ID and SNS_SECRET_ACCESS_KEY, or neither (the default chain)',
      );
    }
    if (production && config.SNS_ENDPOINT && !config.SNS_ENDPOINT.startsWith('https://')) {
      problems.push('SNS_ENDPOINT: must be https:// when NODE_ENV=production');
    }
    // SNS takes no spaces in a sender id: a country routed to SNS needs one without
    const ids = config.SMS_SENDER_IDS ? parseSenderIds(config.SMS_SENDER_IDS) : undefined;
    for (const [country, id] of typeof ids === 'string' || !ids ? [] : ids) {
      const chain = routes?.get(country) ?? routes?.get(DEFAULT_ROUTE) ?? names;
      if (chain.includes('sns') && id.includes(' ')) {
        problems.push(`SMS_SENDER_IDS: ${country}: "${id}" has a space, which SNS does not allow in a sender id`);
      }
    }
  }
  if (used('messagebird')) {
    if (!config.MESSAGEBIRD_ACCESS_KEY) problems.push(`MESSAGEBIRD_ACCESS_KEY: required when ${by('messagebird')}`);
    if (!config.MESSAGEBIRD_ORIGINATOR) problems.push(`MESSAGEBIRD_ORIGINATOR: required when ${by('messagebird')}`);
    if (production && !config.MESSAGEBIRD_BASE_URL.startsWith('https://')) {
      problems.push('MESSAGEBIRD_BASE_URL: must be https:// when NODE_ENV=production');
    }
  }
  if (production && config.SMS_RECEIPTS_BASE_URL && !config.SMS_RECEIPTS_BASE_URL.startsWith('https://')) {
    problems.push('SMS_RECEIPTS_BASE_URL: must be https:// when NODE_ENV=production');
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

/** JWT access tokens are accepted only for us (an audience), and their keys come over TLS in production. */
function oidcProblems(config: EnvironmentVariables): string[] {
  const problems: string[] = [];
  if ((config.OIDC_JWKS_URL || config.OIDC_JWKS_FILE) && !config.OIDC_AUDIENCE) {
    problems.push(
      'OIDC_AUDIENCE: required when OIDC_JWKS_URL or OIDC_JWKS_FILE is set (the audience your IdP puts in access tokens for this API)',
    );
  }
  if (config.NODE_ENV === 'production' && config.OIDC_JWKS_URL && !config.OIDC_JWKS_URL.startsWith('https://')) {
    problems.push('OIDC_JWKS_URL: must be https:// when NODE_ENV=production');
  }
  return problems;
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
  if (
    config.SMS_NUMBER_CEILING_PER_DAY !== undefined &&
    config.SMS_NUMBER_CEILING_PER_DAY < config.SMS_MAX_PER_NUMBER_PER_DAY
  ) {
    problems.push('SMS_NUMBER_CEILING_PER_DAY: must be at least SMS_MAX_PER_NUMBER_PER_DAY (one account’s cap)');
  }
  if (config.SMS_BACKOFF_BASE > config.SMS_BACKOFF_MAX) {
    problems.push('SMS_BACKOFF_MAX: must be at least SMS_BACKOFF_BASE (the first wait)');
  }
  problems.push(...smsProviderProblems(config));
  problems.push(...fraudProblems(config));
  problems.push(...oidcProblems(config));
  if (!config.TLS_CERT_FILE !== !config.TLS_KEY_FILE) {
    problems.push(
      `${config.TLS_CERT_FILE ? 'TLS_KEY_FILE' : 'TLS_CERT_FILE'}: TLS needs both TLS_CERT_FILE and TLS_KEY_FILE`,
    );
  }
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
