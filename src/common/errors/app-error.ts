import { boundText, MAX_DESCRIPTION_BYTES, MAX_FIELD_BYTES, MAX_VIOLATIONS } from './bounded-text';
import { GrpcStatus } from './grpc-status';

export const ERROR_DETAIL_TYPE = 'type.googleapis.com/zitadel.v1.ErrorDetail';
export const BAD_REQUEST_TYPE = 'type.googleapis.com/google.rpc.BadRequest';
export const ERROR_INFO_TYPE = 'type.googleapis.com/google.rpc.ErrorInfo';
export const RETRY_INFO_TYPE = 'type.googleapis.com/google.rpc.RetryInfo';
export const ERROR_DOMAIN = 'phone-verify';

export interface FieldViolation {
  field: string;
  description: string;
}

/** Extra details beyond the ZITADEL ErrorDetail every error carries. */
export interface AppErrorExtras {
  fieldViolations?: FieldViolation[];
  /** google.rpc.ErrorInfo: reason + metadata (string values). */
  info?: { reason: string; metadata: Record<string, string> };
  /** google.rpc.RetryInfo and the HTTP Retry-After header, in milliseconds. */
  retryAfterMs?: number;
  /** REST only: a status the gRPC code table cannot express (405, 413, 415) and the headers it needs (Allow, Accept). */
  http?: { status: number; headers?: Record<string, string> };
}

/**
 * The one application error, rendered by the filters (ADR 0018); the wire message is "<message> (<id>)".
 * An answer, not a fault: it captures no stack trace (docs/performance.md).
 */
export class AppError extends Error {
  /** the human text, bounded (see bounded-text.ts): it may echo what the client sent */
  readonly text: string;
  readonly extras: AppErrorExtras;

  constructor(
    readonly code: GrpcStatus,
    readonly id: string,
    text: string,
    extras: AppErrorExtras = {},
  ) {
    const bounded = boundText(text);
    const limit = Error.stackTraceLimit;
    Error.stackTraceLimit = 0;
    super(id ? `${bounded} (${id})` : bounded);
    Error.stackTraceLimit = limit;
    this.name = 'AppError';
    this.text = bounded;
    this.extras = extras.fieldViolations
      ? { ...extras, fieldViolations: boundViolations(extras.fieldViolations) }
      : extras;
  }
}

/** The first MAX_VIOLATIONS, each bounded; the message (built from all of them) tells the rest. */
function boundViolations(violations: FieldViolation[]): FieldViolation[] {
  return violations.slice(0, MAX_VIOLATIONS).map(({ field, description }) => ({
    field: boundText(field, MAX_FIELD_BYTES),
    description: boundText(description, MAX_DESCRIPTION_BYTES),
  }));
}

/** The contract's error body, the same for REST and (as google.rpc.Status) for gRPC. */
export interface ErrorBody {
  code: number;
  message: string;
  details: Array<Record<string, unknown>>;
}

export function toErrorBody(error: AppError): ErrorBody {
  const details: Array<Record<string, unknown>> = [];
  if (error.id) details.push({ '@type': ERROR_DETAIL_TYPE, id: error.id, message: error.text });
  const { fieldViolations, info, retryAfterMs } = error.extras;
  if (fieldViolations?.length) details.push({ '@type': BAD_REQUEST_TYPE, fieldViolations });
  if (info)
    details.push({ '@type': ERROR_INFO_TYPE, reason: info.reason, domain: ERROR_DOMAIN, metadata: info.metadata });
  if (retryAfterMs !== undefined) {
    details.push({ '@type': RETRY_INFO_TYPE, retryDelay: `${Math.ceil(retryAfterMs / 1000)}s` });
  }
  return { code: error.code, message: error.message, details };
}
