import type { JsonObject } from '@bufbuild/protobuf';
import { createHuman, createMachineWithToken, createOrg } from '../../support/factories';
import { TestApp } from '../../support/test-app';
import { statusJson, TRANSPORTS, transportCaller } from '../../support/transports';
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
