import { AppError, FieldViolation } from './app-error';
import { GrpcStatus } from './grpc-status';

/** Retry-After of a dependency fault: outages are short or long, clients back off from here. */
export const UNAVAILABLE_RETRY_AFTER_MS = 1_000;

/** The catalogue: every error the service raises on purpose, with its stable ID. */
const LIBRARY_IDS: Partial<Record<GrpcStatus, string>> = {
  [GrpcStatus.CANCELLED]: 'API-cancel',
  [GrpcStatus.DEADLINE_EXCEEDED]: 'API-deadline',
  [GrpcStatus.RESOURCE_EXHAUSTED]: 'API-t00big',
  [GrpcStatus.UNAVAILABLE]: 'API-unavail',
};

export const Errors = {
  validation: (violations: FieldViolation[]) =>
    new AppError(
      GrpcStatus.INVALID_ARGUMENT,
      'VALIDATION-1nv4l',
      `invalid request: ${violations.map((v) => `${v.field}: ${v.description}`).join('; ')}`,
      { fieldViolations: violations },
    ),
  /** A token was sent but names no active caller: why (unknown, expired, bad signature) is never told. */
  unauthenticated: () => new AppError(GrpcStatus.UNAUTHENTICATED, 'AUTH-7fs1e', 'Token is invalid'),
  /** No Authorization header, another scheme, or a value that is no bearer token. */
  noToken: () => new AppError(GrpcStatus.UNAUTHENTICATED, 'AUTH-n0t0k', 'Bearer token missing or malformed'),
  permissionDenied: () => new AppError(GrpcStatus.PERMISSION_DENIED, 'AUTH-AWfge', 'No matching permissions found'),
  userNotFound: () => new AppError(GrpcStatus.NOT_FOUND, 'QUERY-Dfbg2', 'User could not be found'),
  orgNotFound: () => new AppError(GrpcStatus.NOT_FOUND, 'ORG-iTUSx', 'Organisation not found'),
  userAlreadyExists: () => new AppError(GrpcStatus.ALREADY_EXISTS, 'COMMAND-k2unb', 'User already exists'),
  orgAlreadyExists: () => new AppError(GrpcStatus.ALREADY_EXISTS, 'ORG-lapo2m', 'Organisation already exists'),
  userNotActive: () => new AppError(GrpcStatus.FAILED_PRECONDITION, 'COMMAND-3M9ds', 'User is not active'),
  userNotInactive: () => new AppError(GrpcStatus.FAILED_PRECONDITION, 'COMMAND-6br8s', 'User is not inactive'),
  userNotLocked: () => new AppError(GrpcStatus.FAILED_PRECONDITION, 'COMMAND-4M0ds', 'User is not locked'),
  userAlreadyLocked: () => new AppError(GrpcStatus.FAILED_PRECONDITION, 'COMMAND-3NM9s', 'User is already locked'),
  userNotMachine: () => new AppError(GrpcStatus.FAILED_PRECONDITION, 'COMMAND-Sdg4h', 'User is not a machine user'),
  patExpirationInPast: () =>
    new AppError(GrpcStatus.INVALID_ARGUMENT, 'COMMAND-dv3t5', 'Expiration date must be in the future'),
  /** A REST body the JSON parser did not read (a form, multipart, text, no content type): never taken for an empty request. */
  unsupportedMediaType: () =>
    new AppError(GrpcStatus.INVALID_ARGUMENT, 'API-unsup', 'Unsupported content type, send application/json', {
      http: { status: 415, headers: { Accept: 'application/json' } },
    }),
  /** A REST path of ours called with a method it does not serve; `allow` lists those it does. */
  methodNotAllowed: (allow: string[]) =>
    new AppError(GrpcStatus.UNIMPLEMENTED, 'API-n0method', 'Method not allowed on this path, see the Allow header', {
      http: { status: 405, headers: { Allow: allow.join(', ') } },
    }),
  unimplemented: (what: string) => new AppError(GrpcStatus.UNIMPLEMENTED, 'API-unimpl', `${what} is not supported`),
  /** A dependency did not answer in time: nothing was done, the same call may succeed later. */
  unavailable: () =>
    new AppError(GrpcStatus.UNAVAILABLE, 'API-unavail', 'Service temporarily unavailable', {
      retryAfterMs: UNAVAILABLE_RETRY_AFTER_MS,
    }),
  /** A status the gRPC library made up by itself (a deadline, a message over the size limit): its text, with an ID by code. */
  library: (code: GrpcStatus, text: string) => new AppError(code, LIBRARY_IDS[code] ?? 'API-grpc', text),
  internal: (correlationId: string) =>
    new AppError(GrpcStatus.INTERNAL, 'INTERNAL', `Internal error, correlation id ${correlationId}`, {
      info: { reason: 'INTERNAL', metadata: { correlationId } },
    }),
};
