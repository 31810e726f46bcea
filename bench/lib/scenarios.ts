import { credentials, Metadata, ServiceError } from '@grpc/grpc-js';
import { driveAutocannon, driveGrpc, driveHttpLoop, DriveOptions, GrpcCall, HttpCall } from './drivers';
import { PACKAGE_DEFINITION, UserServiceClient } from './servers';
import { SeededUsers } from './seed';
import { RunMeasurement } from './stats';

export const SCENARIOS = ['verify-wrong', 'verify-right', 'set-phone', 'get-user'] as const;
export type Scenario = (typeof SCENARIOS)[number];
export const TRANSPORTS = ['rest', 'grpc', 'grpc-web', 'connect', 'grpc-http'] as const;
export type Transport = (typeof TRANSPORTS)[number];

/**
 * The ceiling each transport is compared with: the one its load generator drives. Connect calls
 * are HTTP/1.1 JSON POSTs through autocannon, as REST's are; gRPC on the HTTP port goes through
 * the same grpc-js loop as gRPC on its own port.
 */
export type CeilingTransport = 'rest' | 'grpc' | 'grpc-web';
export const CEILING_OF: Record<Transport, CeilingTransport> = {
  rest: 'rest',
  grpc: 'grpc',
  'grpc-web': 'grpc-web',
  connect: 'rest',
  'grpc-http': 'grpc',
};

/** The load generator that drives each transport (bench/lib/drivers.ts). */
export const DRIVER_OF: Record<Transport, string> = {
  rest: 'autocannon',
  grpc: 'grpc-js loop',
  'grpc-web': 'node:http loop',
  connect: 'autocannon',
  'grpc-http': 'grpc-js loop',
};

export const SCENARIO_TITLES: Record<Scenario, string> = {
  'verify-wrong': 'VerifyPhone (wrong code)',
  'verify-right': 'VerifyPhone (right code)',
  'set-phone': 'SetPhone (returnCode)',
  'get-user': 'GetUserByID',
};

/** The error a wrong code must get (contract §6): INVALID_ARGUMENT / HTTP 400, COMMAND-eis9R. */
const WRONG_CODE_ID = 'COMMAND-eis9R';

/** One request of a scenario, independent of the transport. */
export type Call =
  | { method: 'VerifyPhone'; userId: string; verificationCode: string }
  | { method: 'SetPhone'; userId: string; phone: string }
  | { method: 'GetUserByID'; userId: string };

export type Workload = () => Call | undefined;

/** A code that is certainly not `code`. */
export function wrongCode(code: string): string {
  return String((Number(code) + 1) % 1_000_000).padStart(6, '0');
}

/**
 * Wrong guesses spread round-robin over `users`, at most `guessesPerUser` each (so the per-code
 * attempt limit is never reached): with many users no one user sees two guesses close together.
 */
export function wrongCodeWorkload(seeded: SeededUsers, users: number[], guessesPerUser: number): Workload {
  let i = 0;
  const limit = users.length * guessesPerUser;
  return () => {
    if (i >= limit) return undefined;
    const u = users[i++ % users.length];
    return { method: 'VerifyPhone', userId: seeded.ids[u], verificationCode: wrongCode(seeded.codes[u]) };
  };
}

/** The right code, each user once. */
export function rightCodeWorkload(seeded: SeededUsers, users: number[]): Workload {
  let i = 0;
  return () => {
    if (i >= users.length) return undefined;
    const u = users[i++];
    return { method: 'VerifyPhone', userId: seeded.ids[u], verificationCode: seeded.codes[u] };
  };
}

let nextNumber = 0;
/** A number never used before in this bench process: +41 78 xxx xx xx (the seeded users have +41 79 …). */
function newPhone(): string {
  return `+4178${String(nextNumber++ % 10_000_000).padStart(7, '0')}`;
}

/** SetPhone with returnCode, cycling over `users`, a new number every time. */
export function setPhoneWorkload(seeded: SeededUsers, users: number[]): Workload {
  let i = 0;
  return () => ({ method: 'SetPhone', userId: seeded.ids[users[i++ % users.length]], phone: newPhone() });
}

/** GetUserByID, cycling over `users`. */
export function getUserWorkload(seeded: SeededUsers, users: number[]): Workload {
  let i = 0;
  return () => ({ method: 'GetUserByID', userId: seeded.ids[users[i++ % users.length]] });
}

// ---- transports ---------------------------------------------------------------------------

function restCall(call: Call): HttpCall {
  const base = `/v2/users/${call.userId}`;
  switch (call.method) {
    case 'VerifyPhone':
      return {
        method: 'POST',
        path: `${base}/phone/verify`,
        body: JSON.stringify({ verificationCode: call.verificationCode }),
        contentType: 'application/json',
      };
    case 'SetPhone':
      return {
        method: 'POST',
        path: `${base}/phone`,
        body: JSON.stringify({ phone: call.phone, returnCode: {} }),
        contentType: 'application/json',
      };
    case 'GetUserByID':
      return { method: 'GET', path: base };
  }
}

function grpcRequest(call: Call): object {
  switch (call.method) {
    case 'VerifyPhone':
      return { userId: call.userId, verificationCode: call.verificationCode };
    case 'SetPhone':
      return { userId: call.userId, phone: call.phone, returnCode: {} };
    case 'GetUserByID':
      return { userId: call.userId };
  }
}

const USER_SERVICE = 'zitadel.user.v2.UserService';

type Serializer = (value: object) => Buffer;
function requestSerializer(method: string): Serializer {
  const service = PACKAGE_DEFINITION[USER_SERVICE] as Record<string, { requestSerialize: Serializer }>;
  return service[method].requestSerialize;
}

/** A gRPC-web request body: one data frame [0x00][uint32 BE length][protobuf]. */
export function grpcWebFrame(payload: Buffer): Buffer {
  const header = Buffer.alloc(5);
  header.writeUInt32BE(payload.length, 1);
  return Buffer.concat([header, payload]);
}

/**
 * A Connect unary call as ZITADEL's v4 SDKs send it: `POST /<package>.<Service>/<Method>`,
 * `application/json`, the request in protobuf JSON (lowerCamelCase names), no
 * Connect-Protocol-Version header.
 */
function connectCall(call: Call): HttpCall {
  return {
    method: 'POST',
    path: `/${USER_SERVICE}/${call.method}`,
    body: JSON.stringify(grpcRequest(call)),
    contentType: 'application/json',
  };
}

function grpcWebCall(call: Call): HttpCall {
  return {
    method: 'POST',
    path: `/${USER_SERVICE}/${call.method}`,
    body: grpcWebFrame(requestSerializer(call.method)(grpcRequest(call))),
    contentType: 'application/grpc-web+proto',
  };
}

function decodeMessage(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    return text;
  }
}

/** grpc-status and grpc-message of a gRPC-web answer: from its trailer frame, or its headers (trailers-only). */
export function grpcWebStatus(headers: Record<string, unknown>, body: Buffer): { code: number; message: string } {
  let offset = 0;
  while (offset + 5 <= body.length) {
    const flags = body[offset];
    const length = body.readUInt32BE(offset + 1);
    if (flags & 0x80) {
      const fields = new Map<string, string>();
      for (const line of body
        .subarray(offset + 5, offset + 5 + length)
        .toString('utf8')
        .split('\r\n')) {
        const colon = line.indexOf(':');
        if (colon > 0) fields.set(line.slice(0, colon).trim().toLowerCase(), line.slice(colon + 1).trim());
      }
      return {
        code: Number(fields.get('grpc-status') ?? NaN),
        message: decodeMessage(fields.get('grpc-message') ?? ''),
      };
    }
    offset += 5 + length;
  }
  const status = headers['grpc-status'];
  return {
    code: status === undefined ? NaN : Number(status),
    message: decodeMessage(String(headers['grpc-message'] ?? '')),
  };
}

export interface Target {
  httpPort: number;
  grpcPort: number;
  token: string;
}

/**
 * The Connect error JSON's code and whether it carries `id` (the ErrorDetail's id, in a detail's
 * `debug`), or undefined when the body is not Connect's error JSON.
 */
export function connectError(body: string, id: string): { code: string; hasId: boolean } | undefined {
  try {
    const parsed = JSON.parse(body) as { code?: unknown; details?: Array<{ debug?: { id?: unknown } }> };
    if (typeof parsed.code !== 'string') return undefined;
    return { code: parsed.code, hasId: (parsed.details ?? []).some((d) => d.debug?.id === id) };
  } catch {
    return undefined;
  }
}

/** Drives `workload` over `transport` against the service; wrong-code scenarios expect COMMAND-eis9R. */
export async function drive(
  transport: Transport,
  target: Target,
  workload: Workload,
  expectWrongCode: boolean,
  options: DriveOptions,
): Promise<RunMeasurement> {
  const auth = `Bearer ${target.token}`;
  if (transport === 'rest') {
    return driveAutocannon(
      target.httpPort,
      { authorization: auth },
      () => {
        const call = workload();
        return call && restCall(call);
      },
      (status, body) => {
        if (expectWrongCode)
          return status === 400 && body.includes(WRONG_CODE_ID) ? undefined : `HTTP ${status} ${body}`;
        return status >= 200 && status < 300 ? undefined : `HTTP ${status} ${body}`;
      },
      options,
    );
  }
  if (transport === 'connect') {
    return driveAutocannon(
      target.httpPort,
      { authorization: auth },
      () => {
        const call = workload();
        return call && connectCall(call);
      },
      (status, body) => {
        if (expectWrongCode) {
          const error = status === 400 ? connectError(body, WRONG_CODE_ID) : undefined;
          return error?.code === 'invalid_argument' && error.hasId ? undefined : `HTTP ${status} ${body}`;
        }
        return status === 200 ? undefined : `HTTP ${status} ${body}`;
      },
      options,
    );
  }
  if (transport === 'grpc-web') {
    return driveHttpLoop(
      target.httpPort,
      { authorization: auth, 'x-grpc-web': '1' },
      () => {
        const call = workload();
        return call && grpcWebCall(call);
      },
      (status, headers, body) => {
        if (status !== 200) return `HTTP ${status}`;
        const { code, message } = grpcWebStatus(headers, body);
        if (expectWrongCode)
          return code === 3 && message.includes(WRONG_CODE_ID) ? undefined : `grpc-status ${code} ${message}`;
        return code === 0 ? undefined : `grpc-status ${code} ${message}`;
      },
      options,
    );
  }
  // gRPC on its own port, or (grpc-http) on the HTTP port, over HTTP/2 cleartext with prior knowledge
  const port = transport === 'grpc-http' ? target.httpPort : target.grpcPort;
  const client = new UserServiceClient(`127.0.0.1:${port}`, credentials.createInsecure());
  const metadata = new Metadata();
  metadata.set('authorization', auth);
  try {
    return await driveGrpc(
      client,
      metadata,
      (): GrpcCall | undefined => {
        const call = workload();
        return call && { method: call.method, request: grpcRequest(call) };
      },
      (error: ServiceError | null) => {
        if (expectWrongCode) {
          return error?.code === 3 && error.details.includes(WRONG_CODE_ID)
            ? undefined
            : `gRPC ${error ? `${error.code} ${error.details}` : 'OK'}`;
        }
        return error ? `gRPC ${error.code} ${error.details}` : undefined;
      },
      options,
    );
  } finally {
    client.close();
  }
}

// ---- ceilings -----------------------------------------------------------------------------

const CEILING_BODY = JSON.stringify({ verificationCode: '123456' });

/** The Nest+Express ceiling, through autocannon (compared with REST). */
export function driveNestCeilingAutocannon(port: number, options: DriveOptions): Promise<RunMeasurement> {
  return driveAutocannon(
    port,
    { authorization: 'Bearer ceiling' },
    () => ({ method: 'POST', path: '/ceiling', body: CEILING_BODY, contentType: 'application/json' }),
    (status, body) => (status >= 200 && status < 300 ? undefined : `HTTP ${status} ${body}`),
    options,
  );
}

/** The Nest+Express ceiling, through the node:http loop (compared with gRPC-web, which uses that loop). */
export function driveNestCeilingHttpLoop(port: number, options: DriveOptions): Promise<RunMeasurement> {
  return driveHttpLoop(
    port,
    { authorization: 'Bearer ceiling' },
    () => ({ method: 'POST', path: '/ceiling', body: CEILING_BODY, contentType: 'application/json' }),
    (status) => (status >= 200 && status < 300 ? undefined : `HTTP ${status}`),
    options,
  );
}

/** The grpc-js ceiling, through the same gRPC loop (compared with gRPC). */
export async function driveGrpcCeiling(port: number, options: DriveOptions): Promise<RunMeasurement> {
  const client = new UserServiceClient(`127.0.0.1:${port}`, credentials.createInsecure());
  const metadata = new Metadata();
  metadata.set('authorization', 'Bearer ceiling');
  try {
    return await driveGrpc(
      client,
      metadata,
      () => ({ method: 'VerifyPhone', request: { userId: '384049125527515136', verificationCode: '123456' } }),
      (error) => (error ? `gRPC ${error.code} ${error.details}` : undefined),
      options,
    );
  } finally {
    client.close();
  }
}
