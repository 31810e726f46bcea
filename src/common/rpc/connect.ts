import { createFileRegistry, fromBinary, fromJson, toBinary, toJson } from '@bufbuild/protobuf';
import type { DescMessage, FileRegistry, JsonValue } from '@bufbuild/protobuf';
import { FileDescriptorSetSchema } from '@bufbuild/protobuf/wkt';
import type { Request, Response } from 'express';
import { readFileSync } from 'node:fs';
import { gzipSync } from 'node:zlib';
import { AppError, toErrorBody } from '../errors/app-error';
import { Errors } from '../errors/errors';
import { GrpcStatus } from '../errors/grpc-status';
import { DESCRIPTOR_SET } from '../grpc/reflection';
import { anyDetails } from '../grpc/status-details';
import type { RpcHandlers, UnaryRpc } from './rpc-handlers';
import { answeredWith, callInProcess, countAs, metadataOf, readBody } from './rpc-http';

/** Connect's name and HTTP status for each gRPC code (connectrpc.com/docs/protocol). */
const CODES: Record<number, [string, number]> = {
  [GrpcStatus.CANCELLED]: ['canceled', 499],
  [GrpcStatus.UNKNOWN]: ['unknown', 500],
  [GrpcStatus.INVALID_ARGUMENT]: ['invalid_argument', 400],
  [GrpcStatus.DEADLINE_EXCEEDED]: ['deadline_exceeded', 504],
  [GrpcStatus.NOT_FOUND]: ['not_found', 404],
  [GrpcStatus.ALREADY_EXISTS]: ['already_exists', 409],
  [GrpcStatus.PERMISSION_DENIED]: ['permission_denied', 403],
  [GrpcStatus.RESOURCE_EXHAUSTED]: ['resource_exhausted', 429],
  [GrpcStatus.FAILED_PRECONDITION]: ['failed_precondition', 400],
  [GrpcStatus.ABORTED]: ['aborted', 409],
  [GrpcStatus.OUT_OF_RANGE]: ['out_of_range', 400],
  [GrpcStatus.UNIMPLEMENTED]: ['unimplemented', 501],
  [GrpcStatus.INTERNAL]: ['internal', 500],
  [GrpcStatus.UNAVAILABLE]: ['unavailable', 503],
  [GrpcStatus.DATA_LOSS]: ['data_loss', 500],
  [GrpcStatus.UNAUTHENTICATED]: ['unauthenticated', 401],
};

const JSON_TYPE = /^application\/json\s*(;\s*charset=("?)utf-8\2\s*)?$/i;
const PROTO_TYPE = /^application\/proto\s*$/i;
export const ACCEPTED_TYPES =
  'application/json, application/proto, application/grpc-web+proto, application/grpc-web-text+proto';
/** Answers of at least this size are compressed for a caller that accepts gzip. */
const COMPRESS_MIN_BYTES = 1024;

interface Schemas {
  input: DescMessage;
  output: DescMessage;
}

/**
 * Connect, unary (ZITADEL's v4 SDKs): protobuf JSON or binary, run in process on the gRPC handler
 * (ADR 0003, 0019). JSON is strict (an unknown field is INVALID_ARGUMENT); errors carry our details.
 */
export class ConnectProtocol {
  private readonly registry: FileRegistry = createFileRegistry(
    fromBinary(FileDescriptorSetSchema, readFileSync(DESCRIPTOR_SET)),
  );
  private readonly schemas = new Map<string, Schemas | undefined>();

  constructor(
    private readonly handlers: RpcHandlers,
    private readonly bodyLimit: number,
  ) {}

  async answer(req: Request, res: Response): Promise<void> {
    const rpc = this.handlers.get(req.path);
    countAs(res, 'connect', rpc, req);
    if (req.method !== 'POST') {
      res.setHeader('Allow', 'POST');
      return this.fail(res, Errors.unimplemented(`${req.method} on an RPC (Connect calls use POST)`), 405);
    }
    const contentType = req.headers['content-type'] ?? '';
    const json = JSON_TYPE.test(contentType);
    if (!json && !PROTO_TYPE.test(contentType)) {
      res.setHeader('Accept-Post', ACCEPTED_TYPES);
      const why = `content-type "${contentType}" is not one this service speaks: use ${ACCEPTED_TYPES}`;
      return this.fail(res, Errors.validation([{ field: 'content-type', description: why }]), 415);
    }
    const version = req.headers['connect-protocol-version'];
    if (version !== undefined && version !== '1') {
      return this.fail(res, Errors.validation([{ field: 'connect-protocol-version', description: 'must be 1' }]));
    }
    const timeoutHeader = req.headers['connect-timeout-ms'];
    if (timeoutHeader !== undefined && !/^\d{1,10}$/.test(String(timeoutHeader))) {
      const description = 'a timeout is 1 to 10 digits of milliseconds';
      return this.fail(res, Errors.validation([{ field: 'connect-timeout-ms', description }]));
    }
    const encoding = (req.headers['content-encoding'] ?? 'identity').toLowerCase();
    if (encoding !== 'identity' && encoding !== 'gzip') {
      res.setHeader('Accept-Encoding', 'gzip');
      return this.fail(res, Errors.unimplemented(`content-encoding "${encoding}" (use identity or gzip)`));
    }
    const schemas = rpc && this.schemasOf(rpc);
    if (!rpc || !schemas) return this.fail(res, Errors.unimplemented(`method ${req.path}`));
    const metadata = metadataOf(req);
    if (metadata instanceof AppError) return this.fail(res, metadata);
    const body = await readBody(req, this.bodyLimit, encoding === 'gzip');
    if (body === undefined) return;
    if (body instanceof AppError) return this.fail(res, body);
    const request = json ? this.fromJson(schemas.input, body) : body;
    if (request instanceof AppError) return this.fail(res, request);
    const deadline = timeoutHeader === undefined ? undefined : Date.now() + Number(timeoutHeader);
    const outcome = await callInProcess(rpc, request, req, res, metadata, deadline);
    if (res.destroyed) return;
    if (!outcome.ok) return this.fail(res, outcome.error);
    const answer = json
      ? Buffer.from(JSON.stringify(toJson(schemas.output, fromBinary(schemas.output, outcome.response))))
      : outcome.response;
    answeredWith(req, res, GrpcStatus.OK);
    this.send(req, res, 200, json ? 'application/json' : 'application/proto', answer);
  }

  /** Protobuf JSON to the binary the handler's deserializer reads; an empty body is the empty message. */
  private fromJson(schema: DescMessage, body: Buffer): Buffer | AppError {
    let value: JsonValue;
    try {
      value = body.length === 0 ? {} : (JSON.parse(body.toString('utf8')) as JsonValue);
    } catch {
      return Errors.validation([{ field: 'body', description: 'the body is not JSON' }]);
    }
    try {
      return Buffer.from(toBinary(schema, fromJson(schema, value)));
    } catch (error) {
      const description = String((error as Error).message).replace(/^\[[a-z_]+\] /, '');
      return Errors.validation([{ field: 'body', description }]);
    }
  }

  private schemasOf(rpc: UnaryRpc): Schemas | undefined {
    if (this.schemas.has(rpc.path)) return this.schemas.get(rpc.path);
    const [, service, name] = /^\/(.+)\/([^/]+)$/.exec(rpc.path) ?? [];
    const method = this.registry.getService(service)?.methods.find((m) => m.name === name);
    const schemas = method && { input: method.input, output: method.output };
    this.schemas.set(rpc.path, schemas);
    return schemas;
  }

  /** Connect's error JSON, with the HTTP status for the code (or `status`) and REST's headers. */
  private fail(res: Response, error: AppError, status?: number): void {
    if (res.headersSent) return void res.destroy();
    const [code, httpStatus] = CODES[error.code] ?? CODES[GrpcStatus.UNKNOWN];
    const body = toErrorBody(error);
    if (error.code === GrpcStatus.UNAUTHENTICATED) res.setHeader('WWW-Authenticate', 'Bearer');
    if (error.extras.retryAfterMs !== undefined) {
      res.setHeader('Retry-After', String(Math.ceil(error.extras.retryAfterMs / 1000)));
    }
    const details = anyDetails(error, body.details).map((any, i) => {
      const debug: Record<string, unknown> = { ...body.details[i] };
      delete debug['@type'];
      return {
        type: any.type_url.slice(any.type_url.lastIndexOf('/') + 1),
        value: Buffer.from(any.value).toString('base64').replace(/=+$/, ''),
        debug,
      };
    });
    answeredWith(res.req, res, error.code);
    const text = JSON.stringify({ code, message: body.message, details });
    this.send(res.req, res, status ?? httpStatus, 'application/json', Buffer.from(text));
  }

  private send(req: Request, res: Response, status: number, type: string, body: Buffer): void {
    const headers: Record<string, string | number> = { 'Content-Type': type };
    const accepted = String(req.headers['accept-encoding'] ?? '');
    if (body.length >= COMPRESS_MIN_BYTES && /(^|,)\s*gzip\s*(;q=(?!0(\.0*)?\s*(,|$))|,|$)/i.test(accepted)) {
      body = gzipSync(body);
      headers['Content-Encoding'] = 'gzip';
    }
    headers['Content-Length'] = body.length;
    res.writeHead(status, headers);
    res.end(body);
  }
}
