import { ServerInterceptingCall, setLogger, status as Status } from '@grpc/grpc-js';
import type { ServerInterceptingCallInterface, ServerInterceptor } from '@grpc/grpc-js';
import type { Logger } from 'pino';
import { AppError } from '../errors/app-error';
import { boundText } from '../errors/bounded-text';
import { toGrpcError } from '../errors/error.filter';
import { Errors } from '../errors/errors';
import { GrpcStatus } from '../errors/grpc-status';
import { STATUS_DETAILS_KEY } from './status-details';

type CallStatus = Parameters<ServerInterceptingCallInterface['sendStatus']>[0];

const PROTOBUF = 'the message is not a valid protobuf encoding of the request';

/**
 * What grpc-js answers by itself, before or around our handlers, as the error it is for the
 * caller. grpc-js calls a caller's malformed grpc-timeout, an undecompressable message and bytes a
 * library handler (reflection) cannot decode INTERNAL, as if the server had failed.
 */
function libraryError({ code, details }: CallStatus): AppError {
  if (code === Status.INTERNAL && details.startsWith('Invalid grpc-timeout value')) {
    return Errors.validation([{ field: 'grpc-timeout', description: TIMEOUT_FORMAT }]);
  }
  if (code === Status.INTERNAL && details === 'Failed to decompress message') {
    return Errors.validation([
      { field: 'body', description: 'the message does not decompress with its grpc-encoding' },
    ]);
  }
  if (code === Status.INTERNAL && details.startsWith('Error deserializing request')) {
    return Errors.validation([{ field: 'body', description: PROTOBUF }]);
  }
  const encoding = /^Received message compressed with unsupported encoding "(.*)"$/s.exec(details);
  if (code === Status.UNIMPLEMENTED && encoding) {
    return Errors.unimplemented(`grpc-encoding "${encoding[1]}" (use identity, gzip or deflate)`);
  }
  // no message, or a second one, on a call that takes exactly one
  if (code === Status.UNIMPLEMENTED && /^Received (no|a second) request message/.test(details)) {
    return Errors.validation([{ field: 'body', description: 'a unary call takes exactly one message' }]);
  }
  return Errors.library(code as number as GrpcStatus, details);
}

export const TIMEOUT_FORMAT = 'a timeout is 1 to 8 digits and a unit: H, M, S, m, u or n';

/**
 * The first server interceptor is handed grpc-js's own call object, through whose `sendStatus`
 * every status leaves, its own included (grpc-js calls `this.sendStatus`). Wrapped here, each
 * status it makes up is rendered as ours: the caller's mistakes as INVALID_ARGUMENT, all in the
 * documented body (grpc-status-details-bin) and with bounded text. Statuses from our handlers
 * already carry their details and pass unchanged.
 */
export const libraryStatusInterceptor: ServerInterceptor = (_method, call) => {
  const send = call.sendStatus.bind(call);
  call.sendStatus = (status: CallStatus) => {
    if (status.code === Status.OK || status.metadata?.get(STATUS_DETAILS_KEY).length) return send(status);
    const error = toGrpcError(libraryError(status));
    send({ code: error.code as number as Status, details: error.details, metadata: error.metadata });
  };
  return new ServerInterceptingCall(call);
};

type RespondWithError = (status: CallStatus, ...rest: unknown[]) => void;

/**
 * An unknown method gets a bounded name and the documented body; grpc-js answers it before any
 * interceptor, so its private `_respondWithError` is wrapped (ADR 0006, item 1).
 */
export function boundUnknownMethod(server: unknown): void {
  const target = server as { _respondWithError?: RespondWithError };
  const respond = target._respondWithError;
  if (typeof respond !== 'function') return;
  target._respondWithError = function (this: unknown, status: CallStatus, ...rest: unknown[]) {
    const path = /^The server does not implement the method (.*)$/s.exec(status.details)?.[1];
    if (status.code !== Status.UNIMPLEMENTED || path === undefined) return respond.call(this, status, ...rest);
    const error = toGrpcError(Errors.unimplemented(`method ${boundText(path, 200)}`));
    const details = encodeURI(error.details);
    respond.call(this, { code: Status.UNIMPLEMENTED, details, metadata: error.metadata }, ...rest);
  };
}

const DROPPED_ENTRY = /^Failed to add metadata entry ([^:]*):/;

/**
 * grpc-js logs to stderr, and a request header it cannot take as metadata (a tab, a byte over
 * 0x7E) with its whole value: an Authorization header's token. Its lines go to our logger
 * instead, that one without the value. (Process-wide: grpc-js has one logger.)
 */
export function routeGrpcLogs(logger: Logger): void {
  const line = (level: 'error' | 'info' | 'debug') => (message?: unknown) => {
    const text = String(message);
    const dropped = DROPPED_ENTRY.exec(text);
    if (dropped) {
      logger.warn(
        { header: boundText(dropped[1], 64) },
        'gRPC: a request header with characters metadata cannot hold was dropped (value not logged)',
      );
    } else logger[level]({ grpc: boundText(text) }, 'gRPC library message');
  };
  setLogger({ error: line('error'), info: line('info'), debug: line('debug') });
}
