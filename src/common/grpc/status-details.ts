import { Metadata } from '@grpc/grpc-js';
import * as protobuf from 'protobufjs';
import { join } from 'node:path';
import { AppError, BAD_REQUEST_TYPE, ERROR_DETAIL_TYPE, ERROR_INFO_TYPE, RETRY_INFO_TYPE } from '../errors/app-error';
import { PROTO_ROOT } from './proto-files';

const root = new protobuf.Root();
root.resolvePath = (_origin, target) => (target.startsWith('google/protobuf/') ? target : join(PROTO_ROOT, target));
root.loadSync(['zitadel/message.proto', 'google/rpc/status.proto', 'google/rpc/error_details.proto']);
root.resolveAll();

const Status = root.lookupType('google.rpc.Status');
const DETAIL_TYPES: Record<string, protobuf.Type> = {
  [ERROR_DETAIL_TYPE]: root.lookupType('zitadel.v1.ErrorDetail'),
  [BAD_REQUEST_TYPE]: root.lookupType('google.rpc.BadRequest'),
  [ERROR_INFO_TYPE]: root.lookupType('google.rpc.ErrorInfo'),
  [RETRY_INFO_TYPE]: root.lookupType('google.rpc.RetryInfo'),
};

export const STATUS_DETAILS_KEY = 'grpc-status-details-bin';

/** Details of the error body as google.protobuf.Any messages. */
export function anyDetails(error: AppError, body: Array<Record<string, unknown>>) {
  return body.map((detail) => {
    const typeUrl = detail['@type'] as string;
    const type = DETAIL_TYPES[typeUrl];
    const fields = { ...detail };
    delete fields['@type'];
    if (typeUrl === RETRY_INFO_TYPE) {
      fields.retryDelay = { seconds: Math.ceil((error.extras.retryAfterMs ?? 0) / 1000), nanos: 0 };
    }
    return { type_url: typeUrl, value: type.encode(type.fromObject(fields)).finish() };
  });
}

/** google.rpc.Status bytes carrying the same details REST shows (the ErrorDetail first). */
export function encodeStatusDetails(error: AppError, details: Array<Record<string, unknown>>): Buffer {
  const message = Status.fromObject({ code: error.code, message: error.message, details: anyDetails(error, details) });
  return Buffer.from(Status.encode(message).finish());
}

/** For clients and tests: decode grpc-status-details-bin back into the REST-shaped details. */
export function decodeStatusDetails(bytes: Buffer): {
  code: number;
  message: string;
  details: Array<Record<string, unknown>>;
} {
  const status = Status.toObject(Status.decode(bytes), { longs: String, defaults: false }) as {
    code: number;
    message: string;
    details?: Array<{ type_url: string; value: Uint8Array }>;
  };
  return {
    code: status.code,
    message: status.message,
    details: (status.details ?? []).map((any) => {
      const type = DETAIL_TYPES[any.type_url];
      const decoded = type ? type.toObject(type.decode(any.value), { longs: String, defaults: false }) : {};
      return { '@type': any.type_url, ...decoded };
    }),
  };
}

export function statusMetadata(error: AppError, details: Array<Record<string, unknown>>): Metadata {
  const metadata = new Metadata();
  metadata.set(STATUS_DETAILS_KEY, encodeStatusDetails(error, details));
  return metadata;
}
