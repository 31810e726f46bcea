import { fromBinary, toJson } from '@bufbuild/protobuf';
import type { DescMessage, JsonObject } from '@bufbuild/protobuf';
import type { Server } from 'node:net';
import { gunzipSync } from 'node:zlib';
import { createHuman, createMachineWithToken, createOrg } from '../../support/factories';
import { TestApp } from '../../support/test-app';
import { messageSchema, protoRegistry, statusJson, TRANSPORTS, transportCaller } from '../../support/transports';
import { ERROR_DETAIL } from '../../support/wire';

/** grpc-js's own answers about the transport itself (deadline, size, method), which carry no details */
const TRANSPORT_CODES = new Set([4, 8, 12]);

const show = (text: string) => JSON.stringify(text.length > 300 ? `${text.slice(0, 300)}…` : text);

/** The fixtures a fuzz suite works on, and the secrets that must never reach the log. */
export interface Fixtures {
  orgId: string;
  userId: string;
  roleless: { userId: string; token: string };
  /** tokens and codes the app handed out */
  secrets: Set<string>;
}

export async function fixtures(t: TestApp): Promise<Fixtures> {
  const orgId = await createOrg(t);
  const { userId, phoneCode } = await createHuman(t, { orgId, phone: '+41791234567' });
  const roleless = await createMachineWithToken(t, orgId);
  return { orgId, userId, roleless, secrets: new Set([t.adminToken, roleless.token, phoneCode!]) };
}

/** Tokens and codes in a successful answer (PATs, returnCode) join the secrets. */
export function collectSecrets(f: Fixtures, body: unknown): void {
  if (!body || typeof body !== 'object') return;
  for (const [key, value] of Object.entries(body)) {
    if (typeof value === 'string' && /^(token|verificationCode|phoneCode)$/.test(key)) f.secrets.add(value);
    else if (typeof value === 'object') collectSecrets(f, value);
  }
}

/** A REST answer: 2xx, or 4xx with the documented error body; never 5xx (named with the error the log has for it). */
export function checkRestAnswer(status: number, text: string, logs: string[] = []): void {
  if (status >= 500) {
    const id = /correlation id ([0-9a-f-]{36})/.exec(text)?.[1];
    const logged = id ? logs.find((line) => line.includes(id) && line.includes('"err"')) : undefined;
    const cause = logged ? (JSON.parse(logged) as { err?: { message?: string } }).err?.message : undefined;
    throw new Error(`REST answered ${status}: ${show(text)}${cause ? `, logged as ${show(cause)}` : ''}`);
  }
  if (status < 300) return;
  if (status < 400) throw new Error(`REST answered ${status}`);
  let body: { code?: unknown; message?: unknown; details?: Array<Record<string, unknown>> };
  try {
    body = JSON.parse(text);
  } catch {
    throw new Error(`REST answered ${status} without the error body: ${show(text)}`);
  }
  const detail = body.details?.[0];
  const documented =
    Number.isInteger(body.code) &&
    ![0, 2, 13].includes(body.code as number) &&
    detail?.['@type'] === ERROR_DETAIL &&
    typeof detail.id === 'string' &&
    body.message === `${String(detail.message)} (${detail.id})`;
  if (!documented) throw new Error(`REST ${status} body is not the documented error body: ${show(text)}`);
}

/**
 * A gRPC outcome: a status, never UNKNOWN or INTERNAL; an error's grpc-status-details-bin decodes as
 * google.rpc.Status, agrees with grpc-status and grpc-message and leads with the ErrorDetail.
 */
export function checkGrpcStatus(status: string | undefined, message: string | undefined, detailsBin?: Buffer): number {
  if (status === undefined || !/^\d{1,2}$/.test(status)) throw new Error(`no grpc-status (got ${status})`);
  const code = Number(status);
  if (code === 2 || code === 13 || code > 16) throw new Error(`grpc-status ${code}: ${show(message ?? '')}`);
  if (code === 0) return code;
  if (!detailsBin) {
    if (TRANSPORT_CODES.has(code)) return code;
    throw new Error(`grpc-status ${code} without grpc-status-details-bin: ${show(message ?? '')}`);
  }
  const decoded = statusJson(detailsBin);
  const text = decodeURIComponent(message ?? '');
  const detail = decoded.details[0] as JsonObject | undefined;
  if (decoded.code !== code || decoded.message !== text || detail?.['@type'] !== ERROR_DETAIL) {
    throw new Error(`grpc-status-details-bin ${show(JSON.stringify(decoded))} disagrees with ${code} ${show(text)}`);
  }
  return code;
}

/** The HTTP port's open connections (sockets its listener accepted and has not seen close). */
export function openConnections(t: TestApp): Promise<number> {
  return new Promise((resolve, reject) =>
    (t.app.getHttpServer() as Server).getConnections((error, count) => (error ? reject(error) : resolve(count))),
  );
}

/** Waits up to `ms` for the HTTP port to hold no more connections than `count`: none left open by the server. */
export async function expectConnectionsBackTo(t: TestApp, count: number, ms = 3_000): Promise<void> {
  const deadline = Date.now() + ms;
  let now = await openConnections(t);
  while (now > count && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 50));
    now = await openConnections(t);
  }
  if (now > count) throw new Error(`${now - count} connection(s) still open on the server after ${ms} ms`);
}

/** Connect's code names and the HTTP status of each (connectrpc.com/docs/protocol, "Error Codes"). */
export const CONNECT_CODES: Record<string, number> = {
  canceled: 499,
  unknown: 500,
  invalid_argument: 400,
  deadline_exceeded: 504,
  not_found: 404,
  already_exists: 409,
  permission_denied: 403,
  resource_exhausted: 429,
  failed_precondition: 400,
  aborted: 409,
  out_of_range: 400,
  unimplemented: 501,
  internal: 500,
  unavailable: 503,
  data_loss: 500,
  unauthenticated: 401,
};

/** Codes no hostile input may get: a fault of ours, or one only a caller's own deadline explains. */
const NEVER_CONNECT = new Set(['canceled', 'unknown', 'internal', 'unavailable', 'data_loss']);

export interface ConnectAnswer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
}

export interface ConnectExpectations {
  /** the method's response type, to decode a binary answer */
  output?: DescMessage;
  /** the call had a deadline (connect-timeout-ms): deadline_exceeded is a fair answer */
  deadline?: boolean;
  /** HEAD: the status alone */
  head?: boolean;
}

const header = (headers: ConnectAnswer['headers'], name: string) => {
  const value = headers[name];
  return Array.isArray(value) ? value[0] : value;
};

/**
 * A Connect unary answer: 200 with a JSON object or the response message in binary; or Connect's
 * error JSON `{code, message, details}` with the HTTP status of its code (415 for a content type
 * not spoken, 405 for a method other than POST), never a fault of ours (5xx: unknown, internal,
 * unavailable; deadline_exceeded only on a call with a deadline), the ErrorDetail first among the
 * details (each `{type, value}`, value the base64 of the message) and the message REST's.
 * Returns the answer's body as JSON (a binary answer decoded), for secrets to be collected.
 */
export function checkConnectAnswer(answer: ConnectAnswer, want: ConnectExpectations = {}): unknown {
  const { status, headers } = answer;
  const encoding = header(headers, 'content-encoding');
  let body = answer.body;
  if (encoding === 'gzip') body = gunzipSync(body);
  else if (encoding !== undefined && encoding !== 'identity') throw new Error(`Connect answer in ${encoding}`);
  const type = header(headers, 'content-type') ?? '';
  const text = body.toString('utf8');
  if (status === 200) {
    if (/^application\/proto$/.test(type)) {
      if (!want.output) throw new Error('a binary answer to a JSON call');
      return toJson(want.output, fromBinary(want.output, body), { registry: protoRegistry() });
    }
    if (!/^application\/json$/.test(type)) throw new Error(`Connect 200 as ${show(type)}: ${show(text)}`);
    const value: unknown = JSON.parse(text);
    if (!value || typeof value !== 'object' || Array.isArray(value)) throw new Error(`Connect 200 with ${show(text)}`);
    return value;
  }
  if (want.head) {
    if (status >= 500 && status !== 501) throw new Error(`HEAD answered ${status}`);
    return undefined;
  }
  let error: { code?: unknown; message?: unknown; details?: unknown };
  try {
    error = JSON.parse(text);
    if (!/^application\/json$/.test(type)) throw new Error(`as ${type}`);
  } catch {
    throw new Error(`Connect ${status} without the error JSON (${show(type)}): ${show(text)}`);
  }
  const code = String(error.code);
  const codeStatus = CONNECT_CODES[code];
  if (codeStatus === undefined) throw new Error(`Connect ${status} with code ${show(code)}: ${show(text)}`);
  if (NEVER_CONNECT.has(code) || (code === 'deadline_exceeded' && !want.deadline)) {
    throw new Error(`Connect ${status} ${code}: ${show(text)}`);
  }
  const special = (status === 415 && code === 'invalid_argument') || (status === 405 && code === 'unimplemented');
  if (status !== codeStatus && !special) throw new Error(`Connect ${code} with HTTP ${status}, not ${codeStatus}`);
  if (status === 415 && !header(headers, 'accept-post')) throw new Error('415 without Accept-Post');
  if (status === 405 && header(headers, 'allow') !== 'POST') throw new Error('405 without Allow: POST');
  if (code === 'unauthenticated' && header(headers, 'www-authenticate') !== 'Bearer') {
    throw new Error('unauthenticated without WWW-Authenticate: Bearer');
  }
  const details = error.details ?? [];
  if (typeof error.message !== 'string' || !Array.isArray(details)) throw new Error(`Connect error ${show(text)}`);
  for (const detail of details as Array<Record<string, unknown>>) {
    const shaped =
      typeof detail?.type === 'string' &&
      /^[A-Za-z_][\w.]*$/.test(detail.type) &&
      typeof detail.value === 'string' &&
      /^[A-Za-z0-9+/]*={0,2}$/.test(detail.value);
    if (!shaped) throw new Error(`Connect error detail ${show(JSON.stringify(detail))}`);
  }
  const first = (details as Array<{ type: string; value: string }>)[0];
  if (first?.type !== 'zitadel.v1.ErrorDetail') throw new Error(`Connect error without its ErrorDetail: ${show(text)}`);
  const schema = messageSchema(first.type);
  const detail = toJson(schema, fromBinary(schema, Buffer.from(first.value, 'base64'))) as JsonObject;
  if (error.message !== `${String(detail.message)} (${String(detail.id)})`) {
    throw new Error(`Connect error message ${show(error.message)} disagrees with its ErrorDetail`);
  }
  return error;
}

/**
 * After the fuzzing: the app still serves a normal SetPhone (returnCode) + VerifyPhone on every
 * transport, and no token or code it handed out is in its log.
 */
export async function expectStillServingAndNoLeaks(t: TestApp, f: Fixtures): Promise<void> {
  for (const transport of TRANSPORTS) {
    const caller = transportCaller(t, transport);
    try {
      const { userId } = await createHuman(t, { orgId: f.orgId });
      const set = await caller.call(
        'UserService',
        'SetPhone',
        { userId, phone: '+41791234567', returnCode: {} },
        t.adminToken,
      );
      expect(set).toMatchObject({ ok: true, response: { verificationCode: expect.stringMatching(/^\d{6}$/) } });
      const code = (set as unknown as { response: { verificationCode: string } }).response.verificationCode;
      f.secrets.add(code);
      const verified = await caller.call(
        'UserService',
        'VerifyPhone',
        { userId, verificationCode: code },
        t.adminToken,
      );
      expect({ transport, ok: verified.ok }).toEqual({ transport, ok: true });
    } finally {
      caller.close();
    }
  }
  for (const secret of f.secrets) {
    // a code is six digits: only where no digit is beside it (the log's times are long numbers)
    const pattern = new RegExp(`(?<![0-9])${secret.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}(?![0-9])`);
    const leaks = t.logs.filter((line) => pattern.test(line));
    expect({ secret, leaks }).toEqual({ secret, leaks: [] });
  }
}
