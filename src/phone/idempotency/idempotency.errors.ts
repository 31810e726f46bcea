import { AppError } from '../../common/errors/app-error';
import { GrpcStatus } from '../../common/errors/grpc-status';

/** The errors of idempotent requests (docs/idempotency.md, ADR 0026). */
export const IdempotencyErrors = {
  invalidKey: (why: string) =>
    new AppError(GrpcStatus.INVALID_ARGUMENT, 'IDEM-k3yfmt', `Idempotency-Key is invalid: ${why}`, {
      fieldViolations: [{ field: 'Idempotency-Key', description: why }],
      info: { reason: 'IDEMPOTENCY_KEY_INVALID', metadata: { why } },
    }),
  /** The same key, from the same caller, on the same method, with another request: 422 on REST. */
  reusedWithOtherRequest: (method: string) =>
    new AppError(
      GrpcStatus.FAILED_PRECONDITION,
      'IDEM-r3us3d',
      'Idempotency-Key was already used with another request: use a new key for a new request',
      { info: { reason: 'IDEMPOTENCY_KEY_REUSED', metadata: { method } }, http: { status: 422 } },
    ),
  /** The first request with this key has not answered yet (or was interrupted before its answer was stored). */
  inProgress: (method: string, retryAfterMs: number) =>
    new AppError(
      GrpcStatus.ABORTED,
      'IDEM-b1sy',
      'A request with this Idempotency-Key is still in progress: retry it later',
      { retryAfterMs, info: { reason: 'IDEMPOTENCY_IN_PROGRESS', metadata: { method } } },
    ),
};
