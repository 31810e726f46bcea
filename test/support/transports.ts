import { createFileRegistry, fromBinary, fromJson, toBinary, toJson } from '@bufbuild/protobuf';
import type { DescMessage, DescService, FileRegistry, JsonObject, JsonValue } from '@bufbuild/protobuf';
import { FileDescriptorSetSchema } from '@bufbuild/protobuf/wkt';
import { ConnectError, createClient } from '@connectrpc/connect';
import { createConnectTransport, createGrpcWebTransport } from '@connectrpc/connect-node';
import {
  ChannelCredentials,
  Client as GrpcClient,
  credentials,
  loadPackageDefinition,
  Metadata,
  ServiceClientConstructor,
  ServiceError,
} from '@grpc/grpc-js';
import { loadSync } from '@grpc/proto-loader';
import type { MethodDefinition } from '@grpc/proto-loader';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import { LOADER_OPTIONS, PROTO_ROOT, SERVICE_PROTOS } from '../../src/common/grpc/proto-files';
import { TestApp } from './test-app';

/**
 * The four ways clients call us, behind one `call()`: REST (supertest), gRPC (a @grpc/grpc-js
 * client built from proto/ with @grpc/proto-loader), gRPC-web and Connect (connect-es's transports,
 * with descriptors compiled from proto/ by buf, independently of the server's protobufjs).
 * Results come back as protobuf JSON so the transports compare with toEqual.
 */
export type TransportName = 'rest' | 'grpc' | 'grpc-web' | 'connect';
export const TRANSPORTS: TransportName[] = ['rest', 'grpc', 'grpc-web', 'connect'];

export type ServiceName = 'UserService' | 'OrganizationService';
const SERVICES: Record<ServiceName, string> = {
  UserService: 'zitadel.user.v2.UserService',
  OrganizationService: 'zitadel.org.v2.OrganizationService',
};

export type CallResult =
  | { ok: true; response: JsonObject }
  | {
      ok: false;
      code: number;
      /** "<text> (<ID>)": REST body.message, gRPC grpc-message */
      message: string;
      /** google.rpc.Status details as protobuf JSON (REST: the body's details) */
      details: JsonObject[];
      /** REST only */
      httpStatus?: number;
    };

let registry: FileRegistry | undefined;

/** proto/ compiled by buf (offline) into a FileDescriptorSet, once per test file. */
export function protoRegistry(): FileRegistry {
  if (registry) return registry;
  const dir = mkdtempSync(join(tmpdir(), 'pv-buf-'));
  try {
    const out = join(dir, 'set.binpb');
    execFileSync(process.execPath, [require.resolve('@bufbuild/buf/bin/buf'), 'build', PROTO_ROOT, '-o', out]);
    registry = createFileRegistry(fromBinary(FileDescriptorSetSchema, readFileSync(out)));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  return registry;
}

export function messageSchema(typeName: string): DescMessage {
  const schema = protoRegistry().getMessage(typeName);
  if (!schema) throw new Error(`message ${typeName} not in proto/`);
  return schema;
}

export function serviceSchema(service: ServiceName): DescService {
  const schema = protoRegistry().getService(SERVICES[service]);
  if (!schema) throw new Error(`service ${service} not in proto/`);
  return schema;
}

/** grpc-status-details-bin (a google.rpc.Status) as protobuf JSON, decoded with buf's descriptors. */
export function statusJson(bytes: Uint8Array): { code: number; message: string; details: JsonObject[] } {
  const schema = messageSchema('google.rpc.Status');
  const json = toJson(schema, fromBinary(schema, bytes), { registry: protoRegistry() }) as JsonObject;
  return {
    code: (json.code as number | undefined) ?? 0,
    message: (json.message as string | undefined) ?? '',
    details: (json.details as JsonObject[] | undefined) ?? [],
  };
}

export const httpPort = (t: TestApp) => (t.app.getHttpServer().address() as AddressInfo).port;
export const grpcAddress = (t: TestApp) => `127.0.0.1:${t.env.GRPC_PORT}`;

// ---- REST ------------------------------------------------------------------------------------

type Route = { verb: 'get' | 'post' | 'delete'; path: (userId: string) => string };
const user =
  (suffix = '') =>
  (id: string) =>
    `/v2/users/${encodeURIComponent(id)}${suffix}`;
const REST_ROUTES: Record<string, Route> = {
  'UserService.SetPhone': { verb: 'post', path: user('/phone') },
  'UserService.RemovePhone': { verb: 'delete', path: user('/phone') },
  'UserService.ResendPhoneCode': { verb: 'post', path: user('/phone/resend') },
  'UserService.VerifyPhone': { verb: 'post', path: user('/phone/verify') },
  'UserService.AddHumanUser': { verb: 'post', path: () => '/v2/users/human' },
  'UserService.CreateUser': { verb: 'post', path: () => '/v2/users/new' },
  'UserService.GetUserByID': { verb: 'get', path: user() },
  'UserService.DeactivateUser': { verb: 'post', path: user('/deactivate') },
  'UserService.ReactivateUser': { verb: 'post', path: user('/reactivate') },
  'UserService.LockUser': { verb: 'post', path: user('/lock') },
  'UserService.UnlockUser': { verb: 'post', path: user('/unlock') },
  'UserService.DeleteUser': { verb: 'delete', path: user() },
  'UserService.AddPersonalAccessToken': { verb: 'post', path: user('/pats') },
  'OrganizationService.AddOrganization': { verb: 'post', path: () => '/v2/organizations' },
};

async function callRest(
  t: TestApp,
  service: ServiceName,
  method: string,
  request: JsonObject,
  token?: string,
  headers: Record<string, string> = {},
): Promise<CallResult> {
  const route = REST_ROUTES[`${service}.${method}`];
  let req = t
    .http()
    [route.verb](route.path(String(request.userId ?? '')))
    .set(headers);
  if (token !== undefined) req = req.set('Authorization', `Bearer ${token}`);
  const res = route.verb === 'get' ? await req : await req.send(request);
  if (res.status === 200) return { ok: true, response: res.body as JsonObject };
  return {
    ok: false,
    httpStatus: res.status,
    code: res.body.code,
    message: res.body.message,
    details: res.body.details,
  };
}

// ---- gRPC (@grpc/grpc-js + @grpc/proto-loader) -----------------------------------------------

const PACKAGE_DEFINITION = loadSync(SERVICE_PROTOS, LOADER_OPTIONS);
const PACKAGE = loadPackageDefinition(PACKAGE_DEFINITION) as any;
const GRPC_CONSTRUCTORS: Record<ServiceName, ServiceClientConstructor> = {
  UserService: PACKAGE.zitadel.user.v2.UserService,
  OrganizationService: PACKAGE.zitadel.org.v2.OrganizationService,
};

export type GrpcClients = Record<ServiceName, GrpcClient & Record<string, any>>;

/** One grpc-js client per service, on the app's gRPC port (or `address`); close with closeGrpcClients. */
export function grpcClients(
  t: TestApp,
  address = grpcAddress(t),
  channel: ChannelCredentials = credentials.createInsecure(),
): GrpcClients {
  return {
    UserService: new GRPC_CONSTRUCTORS.UserService(address, channel),
    OrganizationService: new GRPC_CONSTRUCTORS.OrganizationService(address, channel),
  } as GrpcClients;
}

export function closeGrpcClients(clients: GrpcClients): void {
  for (const client of Object.values(clients)) client.close();
}

export function grpcMetadata(token?: string, headers: Record<string, string> = {}): Metadata {
  const metadata = new Metadata();
  if (token !== undefined) metadata.set('authorization', `Bearer ${token}`);
  for (const [name, value] of Object.entries(headers)) metadata.set(name, value);
  return metadata;
}

/** A unary call with the proto-loader client: resolves with the decoded object or rejects with the ServiceError. */
export function grpcUnary<T = any>(
  clients: GrpcClients,
  service: ServiceName,
  method: string,
  request: object,
  token?: string,
  headers?: Record<string, string>,
): Promise<T> {
  return new Promise((resolve, reject) => {
    clients[service][method](request, grpcMetadata(token, headers), (error: ServiceError | null, response: T) =>
      error ? reject(error) : resolve(response),
    );
  });
}

function grpcMethod(service: ServiceName, method: string): MethodDefinition<object, object> {
  return (PACKAGE_DEFINITION[SERVICES[service]] as Record<string, MethodDefinition<object, object>>)[method];
}

/** The error of a gRPC call as CallResult, its details taken from grpc-status-details-bin. */
export function grpcErrorResult(error: ServiceError): CallResult {
  const [bin] = error.metadata.get('grpc-status-details-bin');
  const status = bin ? statusJson(bin as Buffer) : undefined;
  if (status && (status.code !== error.code || status.message !== error.details)) {
    throw new Error(`grpc-status-details-bin ${JSON.stringify(status)} disagrees with the status ${error.code}`);
  }
  return { ok: false, code: error.code, message: error.details, details: status?.details ?? [] };
}

/**
 * A protobuf-JSON request as proto-loader takes it: the same names and values, except that a
 * Timestamp is {seconds, nanos} instead of RFC 3339 (empty strings stay, so protobufjs sends them).
 */
function forProtoLoader(schema: DescMessage, json: JsonValue): unknown {
  if (schema.typeName === 'google.protobuf.Timestamp' && typeof json === 'string') return rfc3339ToTimestamp(json);
  if (json === null || typeof json !== 'object' || Array.isArray(json)) return json;
  return Object.fromEntries(
    Object.entries(json).map(([key, value]) => {
      const field = schema.fields.find((f) => f.jsonName === key || f.name === key);
      const inner = field?.message;
      if (!inner) return [key, value];
      return [key, Array.isArray(value) ? value.map((v) => forProtoLoader(inner, v)) : forProtoLoader(inner, value)];
    }),
  );
}

async function callGrpc(
  clients: GrpcClients,
  service: ServiceName,
  method: string,
  request: JsonObject,
  token?: string,
  headers?: Record<string, string>,
): Promise<CallResult> {
  const definition = grpcMethod(service, method);
  const methodDesc = serviceSchema(service).methods.find((m) => m.name === method)!;
  try {
    const response = await grpcUnary<object>(
      clients,
      service,
      method,
      forProtoLoader(methodDesc.input, request) as object,
      token,
      headers,
    );
    // back to bytes and into buf's JSON mapping, so it compares with REST
    const bytes = definition.responseSerialize(response);
    return { ok: true, response: toJson(methodDesc.output, fromBinary(methodDesc.output, bytes)) as JsonObject };
  } catch (error) {
    if ((error as ServiceError).metadata) return grpcErrorResult(error as ServiceError);
    throw error;
  }
}

// ---- gRPC-web (connect-es) -------------------------------------------------------------------

export function grpcWebTransport(t: TestApp) {
  return createGrpcWebTransport({
    baseUrl: `http://127.0.0.1:${httpPort(t)}`,
    httpVersion: '1.1',
    useBinaryFormat: true,
  });
}

/** A ConnectError as CallResult: the message from grpc-message, the details from grpc-status-details-bin. */
export function connectErrorResult(error: ConnectError): CallResult {
  const bin = error.metadata.get('grpc-status-details-bin');
  const status = bin ? statusJson(Buffer.from(bin, 'base64')) : undefined;
  const rawMessage = error.metadata.get('grpc-message');
  const message = rawMessage === null ? error.rawMessage : decodeURIComponent(rawMessage);
  if (status && (status.code !== error.code || status.message !== message)) {
    throw new Error(`grpc-status-details-bin ${JSON.stringify(status)} disagrees with the trailers`);
  }
  return { ok: false, code: error.code, message, details: status?.details ?? [] };
}

// ---- Connect (connect-es, protobuf JSON over HTTP/1.1, as ZITADEL's SDKs call) ---------------

export function connectTransport(t: TestApp, options: { httpVersion?: '1.1' | '2'; binary?: boolean } = {}) {
  return createConnectTransport({
    baseUrl: `http://127.0.0.1:${httpPort(t)}`,
    httpVersion: options.httpVersion ?? '1.1',
    useBinaryFormat: options.binary ?? false,
  });
}

/** A Connect error as CallResult: its message, and its details decoded into protobuf JSON. */
export function connectProtocolErrorResult(error: ConnectError): CallResult {
  const details = error.details.map((detail) => {
    if ('desc' in detail) throw new Error('a Connect error detail the server sent always has a type name');
    const schema = messageSchema(detail.type);
    return {
      '@type': `type.googleapis.com/${detail.type}`,
      ...(toJson(schema, fromBinary(schema, detail.value), { registry: protoRegistry() }) as JsonObject),
    };
  });
  return { ok: false, code: error.code, message: error.rawMessage, details };
}

async function callGrpcWeb(
  t: TestApp,
  service: ServiceName,
  method: string,
  request: JsonObject,
  token?: string,
  protocol: 'grpc-web' | 'connect' = 'grpc-web',
  extraHeaders: Record<string, string> = {},
): Promise<CallResult> {
  const desc = serviceSchema(service);
  const transport = protocol === 'connect' ? connectTransport(t) : grpcWebTransport(t);
  const client = createClient(desc, transport) as unknown as Record<
    string,
    (req: unknown, options: object) => Promise<any>
  >;
  const methodDesc = desc.methods.find((m) => m.name === method)!;
  const input = fromJson(methodDesc.input, request, { registry: protoRegistry() });
  const headers: Record<string, string> =
    token === undefined ? { ...extraHeaders } : { ...extraHeaders, authorization: `Bearer ${token}` };
  const name = methodDesc.localName;
  try {
    const response = await client[name](input, { headers });
    return { ok: true, response: toJson(methodDesc.output, response) as JsonObject };
  } catch (error) {
    if (error instanceof ConnectError) {
      return protocol === 'connect' ? connectProtocolErrorResult(error) : connectErrorResult(error);
    }
    throw error;
  }
}

// ---- one call, four transports --------------------------------------------------------------

export interface Caller {
  /** `headers`: HTTP headers on REST, gRPC-web and Connect, metadata on gRPC */
  call(
    service: ServiceName,
    method: string,
    request: JsonObject,
    token?: string,
    headers?: Record<string, string>,
  ): Promise<CallResult>;
  close(): void;
}

export function transportCaller(t: TestApp, transport: TransportName): Caller {
  if (transport === 'rest') {
    return {
      call: (service, method, request, token, headers) => callRest(t, service, method, request, token, headers),
      close() {},
    };
  }
  if (transport === 'grpc-web' || transport === 'connect') {
    return {
      call: (service, method, request, token, headers) =>
        callGrpcWeb(t, service, method, request, token, transport, headers),
      close() {},
    };
  }
  const clients = grpcClients(t);
  return {
    call: (service, method, request, token, headers) => callGrpc(clients, service, method, request, token, headers),
    close: () => closeGrpcClients(clients),
  };
}

/** The bytes a request becomes on the wire (for hand-made gRPC-web calls). */
export function requestBytes(service: ServiceName, method: string, request: JsonValue): Uint8Array {
  const input = serviceSchema(service).methods.find((m) => m.name === method)!.input;
  return toBinary(input, fromJson(input, request, { registry: protoRegistry() }));
}

/** RFC 3339 (as REST writes a Timestamp) → google.protobuf.Timestamp's seconds and nanos, exactly. */
export function rfc3339ToTimestamp(text: string): { seconds: string; nanos: number } {
  const schema = messageSchema('google.protobuf.Timestamp');
  const ts = fromJson(schema, text) as unknown as { seconds: bigint; nanos: number };
  return { seconds: ts.seconds.toString(), nanos: ts.nanos };
}
