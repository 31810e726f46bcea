import { createParamDecorator, ExecutionContext } from '@nestjs/common';
import type { Request } from 'express';
import { Errors } from '../errors/errors';
import { assertDecoded } from '../grpc/undecodable';
import { deeperThan, MAX_JSON_DEPTH } from './json-depth';

function isTimestamp(value: object): value is { seconds?: string | number; nanos?: number } {
  const keys = Object.keys(value);
  return keys.length > 0 && keys.every((k) => k === 'seconds' || k === 'nanos');
}

/** gRPC input as the JSON mapping has it: google.protobuf.Timestamp → RFC 3339 string. */
function fromGrpc(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(fromGrpc);
  if (value === null || typeof value !== 'object' || Buffer.isBuffer(value)) return value;
  if (isTimestamp(value)) {
    return new Date(Number(value.seconds ?? 0) * 1000 + Math.floor((value.nanos ?? 0) / 1e6)).toISOString();
  }
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
