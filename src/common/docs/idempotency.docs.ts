import type { ApiHeaderOptions } from '@nestjs/swagger';
import { ERROR_INFO_TYPE, RETRY_INFO_TYPE } from '../errors/app-error';
import type { DocError } from './api-rpc.decorator';

/** as checkedKey (src/phone/idempotency/idempotency-rules.ts) takes it */
const MAX_KEY_LENGTH = 255;

/** The request header of the idempotent routes (docs/idempotency.md). */
export const IDEMPOTENCY_HEADER: ApiHeaderOptions = {
  name: 'Idempotency-Key',
  required: false,
  description:
    `1 to ${MAX_KEY_LENGTH} printable ASCII characters (a UUID, say): a repeat within 24 h by the same caller with the ` +
    'same body answers the first answer (with `idempotent-replayed: true`) and sends nothing (docs/idempotency.md)',
};

const info = (reason: string, method: string) => ({
  '@type': ERROR_INFO_TYPE,
  reason,
  domain: 'phone-verify',
  metadata: { method },
});

/** The route's errors with those of Idempotency-Key merged in, by status. */
export function withIdempotencyErrors(method: string, errors: DocError[]): DocError[] {
  const added: DocError[] = [
    {
      status: 400,
      description: 'an invalid Idempotency-Key',
      examples: {
        idempotencyKeyInvalid: {
          code: 3,
          id: 'IDEM-k3yfmt',
          text: `Idempotency-Key is invalid: must be at most ${MAX_KEY_LENGTH} characters`,
        },
      },
    },
    {
      status: 409,
      description: 'the first request with this Idempotency-Key is still running (on another instance): retry it',
      examples: {
        idempotencyInProgress: {
          code: 10,
          id: 'IDEM-b1sy',
          text: 'A request with this Idempotency-Key is still in progress: retry it later',
          extra: [{ '@type': RETRY_INFO_TYPE, retryDelay: '5s' }, info('IDEMPOTENCY_IN_PROGRESS', method)],
        },
      },
    },
    {
      status: 422,
      description: 'this Idempotency-Key was used with another request by the same caller (gRPC: FAILED_PRECONDITION)',
      examples: {
        idempotencyKeyReused: {
          code: 9,
          id: 'IDEM-r3us3d',
          text: 'Idempotency-Key was already used with another request: use a new key for a new request',
          extra: [info('IDEMPOTENCY_KEY_REUSED', method)],
        },
      },
    },
  ];
  const merged = errors.map((error) => {
    const more = added.find((a) => a.status === error.status);
    return more ? { ...error, examples: { ...error.examples, ...more.examples } } : error;
  });
  return [...merged, ...added.filter((a) => !errors.some((e) => e.status === a.status))];
}
