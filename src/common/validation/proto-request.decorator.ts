import { createParamDecorator, ExecutionContext } from '@nestjs/common';
import type { Request } from 'express';
import { Errors } from '../errors/errors';
import { assertDecoded } from '../grpc/undecodable';
import { deeperThan, MAX_JSON_DEPTH } from './json-depth';
import { TIMESTAMP_MAX_MS, TIMESTAMP_MIN_MS } from './proto-json-scalars';

function isTimestamp(value: object): value is { seconds?: string | number; nanos?: number } {
  const keys = Object.keys(value);
  return keys.length > 0 && keys.every((k) => k === 'seconds' || k === 'nanos');
}

/** A Timestamp as RFC 3339, or undefined outside its range (nanos 0..999,999,999, years 1..9999). */
function timestampText({ seconds, nanos = 0 }: { seconds?: string | number; nanos?: number }): string | undefined {
  if (!Number.isInteger(nanos) || nanos < 0 || nanos > 999_999_999) return undefined;
  const ms = Number(seconds ?? 0) * 1000 + Math.floor(nanos / 1e6);
  return ms >= TIMESTAMP_MIN_MS && ms <= TIMESTAMP_MAX_MS ? new Date(ms).toISOString() : undefined;
}

/**
 * gRPC input as the JSON mapping has it: google.protobuf.Timestamp → RFC 3339 string (one out of
 * range is left as it is, for the validation to refuse).
 */
function fromGrpc(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(fromGrpc);
  if (value === null || typeof value !== 'object' || Buffer.isBuffer(value)) return value;
  if (isTimestamp(value)) return timestampText(value) ?? value;
  return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, fromGrpc(v)]));
}

/**
 * The whole request message, on any transport: for REST the JSON body with the path parameters
 * laid over it (for `body: "*"` the path wins); for gRPC the decoded message. The global
 * ProtoValidationPipe validates it against the parameter's DTO type, so both get the same rules.
 */
export const ProtoRequest = createParamDecorator((_: unknown, context: ExecutionContext) => {
  if (context.getType() === 'rpc') {
    const data: unknown = context.switchToRpc().getData();
    assertDecoded(data);
    return fromGrpc(data);
  }
  const req = context.switchToHttp().getRequest<Request>();
  const body: unknown = req.body ?? {};
  // before anything walks it recursively
  if (deeperThan(body, MAX_JSON_DEPTH)) {
    throw Errors.validation([{ field: 'body', description: `must not nest deeper than ${MAX_JSON_DEPTH} levels` }]);
  }
  // a request message is a JSON object, never a list (nor, as body-parser ensures, a scalar)
  if (typeof body !== 'object' || Array.isArray(body)) {
    throw Errors.validation([{ field: 'body', description: 'must be a JSON object' }]);
  }
  return { ...(body as object), ...req.params };
});
