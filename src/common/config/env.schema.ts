import { plainToInstance, Transform } from 'class-transformer';
import { IsIn, IsInt, IsOptional, IsString, Matches, Max, Min, validateSync, ValidationError } from 'class-validator';
import { parseDuration } from './duration';

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
const emptyToUndefined = ({ value }: { value: unknown }) =>
  typeof value === 'string' && value.trim() === '' ? undefined : value;

/**
 * Every setting the service reads. Each one is documented in the README's configuration table;
 * a value outside its bounds stops start-up with a message naming the variable and the range.
 */
export class EnvironmentVariables {
  @IsIn(['development', 'production', 'test'])
  NODE_ENV: 'development' | 'production' | 'test' = 'development';

  @IntRange(0, 65535)
  PORT = 8080;

  @IsString()
  HOST = '0.0.0.0';

  @IntRange(1, 65535)
  GRPC_PORT = 50051;

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

  @IsOptional()
  @Transform(emptyToUndefined)
  @Matches(/^[A-Z]{2}$/, {
    message: 'DEFAULT_PHONE_REGION must be an ISO 3166-1 alpha-2 code such as CH',
  })
  DEFAULT_PHONE_REGION?: string = undefined;

  @IsIn(['console', 'none'])
  SMS_PROVIDER: 'console' | 'none' = 'console';
}

function describe(errors: ValidationError[]): string[] {
  // several constraints of one variable often share a message: say it once
  return errors.flatMap((e) => [...new Set(Object.values(e.constraints ?? {}))].map((m) => `${e.property}: ${m}`));
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
    if (config.SMS_PROVIDER === 'console') {
      problems.push('SMS_PROVIDER: "console" prints codes to stdout and is refused when NODE_ENV=production');
    }
  }
  if (problems.length > 0) {
    throw new Error(`Invalid configuration:\n  ${problems.join('\n  ')}`);
  }
  return config;
}
