import { Metadata } from '@grpc/grpc-js';
import { EventEmitter } from 'node:events';
import { AppError } from '../errors/app-error';
import { toGrpcError } from '../errors/error.filter';
import { Errors } from '../errors/errors';
import { GrpcStatus } from '../errors/grpc-status';
import type { UnaryRpc } from './rpc-handlers';

/** The longest delay a Node timer takes (2^31 - 1 ms); a longer one fires at once. */
const MAX_TIMER_MS = 2_147_483_647;

/** How a call ended: the response's bytes, or a status with the error it renders. */
export type RpcOutcome =
  { ok: true; response: Buffer } | { ok: false; error: AppError; code: number; details: string; metadata: Metadata };

export interface InProcessCallOptions {
  metadata: Metadata;
  /** the caller's address as trusted (TRUSTED_PROXIES already applied) */
  clientAddress: string;
  /** milliseconds since the epoch; undefined: none */
  deadline?: number;
  /** the caller went away: the handler sees the call cancelled, the outcome is CANCELLED */
  signal?: AbortSignal;
  /** response metadata a handler sends (the transport answers it as HTTP headers) */
  onMetadata?: (metadata: Metadata) => void;
}

/**
 * What Nest's gRPC handler (and our guards and decorators) see of a call made in process: the
 * parts of grpc-js's ServerUnaryCall they read, with the caller's address known rather than
 * parsed from a peer string.
 */
export class InProcessCall extends EventEmitter {
  cancelled = false;

  constructor(
    readonly request: object,
    readonly metadata: Metadata,
    readonly clientAddress: string,
    private readonly path: string,
    private readonly deadline: number | undefined,
    private readonly onMetadata?: (metadata: Metadata) => void,
  ) {
    super();
  }

  getPeer(): string {
    return this.clientAddress.includes(':') ? `[${this.clientAddress}]:0` : `${this.clientAddress}:0`;
  }

  getDeadline(): number {
    return this.deadline ?? Infinity;
  }

  getPath(): string {
    return this.path;
  }

  getHost(): string {
    return 'localhost';
  }

  /** Headers go out with the answer of the transport that made the call. */
  sendMetadata(metadata: Metadata): void {
    this.onMetadata?.(metadata);
  }

  cancel(): void {
    if (this.cancelled) return;
    this.cancelled = true;
    this.emit('cancelled', 'cancelled');
  }
}

function failed(error: AppError): RpcOutcome {
  const status = toGrpcError(error);
  return { ok: false, error, code: status.code, details: status.details, metadata: status.metadata };
}

/** A status a handler answered with: our error filter's (it carries its AppError), or one it did not make. */
function statusOf(error: unknown): RpcOutcome | undefined {
  const status = error as { code?: unknown; details?: unknown; metadata?: unknown; error?: unknown } | null;
  if (status?.error instanceof AppError) {
    // the filter's status is toGrpcError(error) already: taken as it is, not rendered (encoded) again
    const { code, details, metadata } = status;
    if (code === status.error.code && typeof details === 'string' && metadata instanceof Metadata) {
      return { ok: false, error: status.error, code, details, metadata };
    }
    return failed(status.error);
  }
  if (error instanceof AppError) return failed(error);
  if (typeof status?.code === 'number' && status.code > 0 && status.code <= 16) {
    return failed(Errors.library(status.code as GrpcStatus, typeof status.details === 'string' ? status.details : ''));
  }
  return undefined;
}

/**
 * Calls a unary handler in process as grpc-js would (ADR 0019): the method's own deserializer and
 * serializer, a deadline. Rejects only with what no handler of ours makes (then INTERNAL).
 */
export function invokeUnary(rpc: UnaryRpc, requestBytes: Buffer, options: InProcessCallOptions): Promise<RpcOutcome> {
  return new Promise<RpcOutcome>((resolve, reject) => {
    let settled = false;
    let timer: NodeJS.Timeout | undefined;
    const settle = (outcome: RpcOutcome) => {
      if (settled) return;
      settled = true;
      if (timer) clearTimeout(timer);
      options.signal?.removeEventListener('abort', abort);
      resolve(outcome);
    };
    const settleError = (error: unknown) => {
      const outcome = statusOf(error);
      if (outcome) return settle(outcome);
      if (settled) return;
      settled = true;
      if (timer) clearTimeout(timer);
      options.signal?.removeEventListener('abort', abort);
      reject(error instanceof Error ? error : new Error(String(error)));
    };
    let call: InProcessCall;
    const abort = () => {
      call?.cancel();
      settle(failed(Errors.library(GrpcStatus.CANCELLED, 'Cancelled on client')));
    };
    try {
      const request = rpc.definition.requestDeserialize(requestBytes);
      call = new InProcessCall(
        request,
        options.metadata,
        options.clientAddress,
        rpc.path,
        options.deadline,
        options.onMetadata,
      );
    } catch {
      return settle(
        failed(
          Errors.validation([
            { field: 'body', description: 'the message is not a valid protobuf encoding of the request' },
          ]),
        ),
      );
    }
    if (options.deadline !== undefined) {
      const wait = options.deadline - Date.now();
      const expire = () => {
        call.cancel();
        settle(failed(Errors.library(GrpcStatus.DEADLINE_EXCEEDED, 'Deadline exceeded')));
      };
      if (wait <= 0) return expire();
      // a timer holds at most ~24.8 days; a deadline further off never comes in practice
      if (wait <= MAX_TIMER_MS) timer = setTimeout(expire, wait);
    }
    if (options.signal?.aborted) return abort();
    options.signal?.addEventListener('abort', abort);
    const callback = (error: unknown, value?: object | null) => {
      if (error) return settleError(error);
      try {
        settle({ ok: true, response: rpc.definition.responseSerialize(value ?? {}) });
      } catch (thrown) {
        settleError(thrown);
      }
    };
    try {
      const pending = rpc.handle(call as never, callback as never) as unknown;
      if (pending instanceof Promise) pending.catch(settleError);
    } catch (thrown) {
      settleError(thrown);
    }
  });
}
