import { toJson } from '@bufbuild/protobuf';
import type { JsonObject } from '@bufbuild/protobuf';
import { Code, ConnectError } from '@connectrpc/connect';
import type { Transport } from '@connectrpc/connect';
import { Http2SessionManager } from '@connectrpc/connect-node';
import { createServerTransport } from '@zitadel/client/node';
import { createUserServiceClient } from '@zitadel/client/v2';
import { createClientTransport } from '@zitadel/client/web';
import { ErrorDetailSchema } from '@zitadel/proto/zitadel/message_pb';
import {
  GetUserByIDResponseSchema,
  SetPhoneResponseSchema,
  VerifyPhoneResponseSchema,
} from '@zitadel/proto/zitadel/user/v2/user_service_pb';
import { createHuman, randomMobile } from './support/factories';
import { phoneApi, wrongCodeFor } from './support/phone-api';
import { DATABASES, startApp, TestApp } from './support/test-app';
import { httpPort, protoRegistry } from './support/transports';
import { ERROR_DETAIL, ERROR_INFO, SEQUENCE, TIME } from './support/wire';

/**
 * ZITADEL's own TypeScript client, `@zitadel/client` (what ZITADEL's hosted Login V2 runs on),
 * with its own transports and its own generated descriptors (`@zitadel/proto`), given nothing but
 * the HTTP port's URL and a bearer token, as it would be pointed at a ZITADEL instance:
 * - `createServerTransport` (`@zitadel/client/node`): connect-node's gRPC transport, so gRPC over
 *   HTTP/2 cleartext with prior knowledge on the HTTP port;
 * - `createClientTransport` (`@zitadel/client/web`): connect-web's gRPC-web transport over fetch
 *   (HTTP/1.1), binary as it sends by default (gRPC-web's JSON format is not served).
 * The separate gRPC port is off (GRPC_PORT=0). What the client reads must be what REST answers.
 */

type ClientTransport = 'grpc' | 'grpc-web';
const CLIENT_TRANSPORTS: ClientTransport[] = ['grpc', 'grpc-web'];

const typeName = (detail: ConnectError['details'][number]) => ('desc' in detail ? detail.desc.typeName : detail.type);

async function failure(call: Promise<unknown>): Promise<ConnectError> {
  return call.then(
    () => {
      throw new Error('the call succeeded');
    },
    (error: unknown) => ConnectError.from(error),
  );
}

describe.each(DATABASES)('@zitadel/client on the HTTP port only (%s)', (db) => {
  let t: TestApp;
  let baseUrl: string;
  const sessions: Http2SessionManager[] = [];

  beforeAll(async () => {
    t = await startApp(db, { GRPC_PORT: '0' });
    baseUrl = `http://127.0.0.1:${httpPort(t)}`;
  }, 60_000);
  afterAll(async () => {
    await t?.close();
    for (const session of sessions) session.abort();
  }, 60_000);

  function transport(kind: ClientTransport, token = t.adminToken): Transport {
    if (kind === 'grpc') {
      // the client's own options; the session manager only lets the test close its connection
      const sessionManager = new Http2SessionManager(baseUrl);
      sessions.push(sessionManager);
      return createServerTransport(token, { baseUrl, sessionManager });
    }
    return createClientTransport(token, { baseUrl });
  }

  it.each(CLIENT_TRANSPORTS)('%s: GetUserByID, SetPhone, VerifyPhone as REST answers them', async (kind) => {
    const api = phoneApi(t);
    const { userId } = await createHuman(t, { phone: randomMobile(), phoneMode: 'returnCode' });
    const users = createUserServiceClient(transport(kind));

    // GetUserByID: the same user as REST reads it
    const rest = async () => (await api.get(userId).expect(200)).body as JsonObject;
    const before = await rest();
    expect(toJson(GetUserByIDResponseSchema, await users.getUserByID({ userId }))).toEqual(before);
    expect((before.user as any).human.phone).toEqual({ phone: expect.any(String) });

    // SetPhone with returnCode: the code comes back, the new number is unverified on REST too
    const phone = randomMobile();
    const set = await users.setPhone({ userId, phone, verification: { case: 'returnCode', value: {} } });
    const resourceOwner = (before.details as JsonObject).resourceOwner;
    expect(toJson(SetPhoneResponseSchema, set)).toEqual({
      details: { sequence: SEQUENCE, changeDate: TIME, resourceOwner },
      verificationCode: expect.stringMatching(/^\d{6}$/),
    });
    const afterSet = await rest();
    expect((afterSet.user as any).human.phone).toEqual({ phone });
    expect(toJson(GetUserByIDResponseSchema, await users.getUserByID({ userId }))).toEqual(afterSet);

    // VerifyPhone with a wrong code: INVALID_ARGUMENT with the ErrorDetail and ErrorInfo REST gives
    const wrong = await failure(users.verifyPhone({ userId, verificationCode: wrongCodeFor(set.verificationCode!) }));
    const restWrong = await api.verify(userId, wrongCodeFor(set.verificationCode!)).expect(400);
    expect(wrong.code).toBe(Code.InvalidArgument);
    expect(wrong.rawMessage).toBe('Code is invalid, 4 attempts left (COMMAND-eis9R)');
    expect(restWrong.body.message).toBe('Code is invalid, 3 attempts left (COMMAND-eis9R)');
    expect(wrong.details.map(typeName)).toEqual(
      (restWrong.body.details as Array<{ '@type': string }>).map((d) => d['@type'].replace('type.googleapis.com/', '')),
    );
    expect(wrong.details.map(typeName)).toEqual([
      ERROR_DETAIL.replace('type.googleapis.com/', ''),
      ERROR_INFO.replace('type.googleapis.com/', ''),
    ]);
    const [detail] = wrong.findDetails(ErrorDetailSchema);
    expect({ id: detail.id, message: detail.message }).toEqual({
      id: 'COMMAND-eis9R',
      message: 'Code is invalid, 4 attempts left',
    });
    const registry = protoRegistry();
    const decoded = wrong
      .findDetails(registry)
      .map((message) => toJson(registry.getMessage(message.$typeName)!, message));
    expect(decoded[1]).toEqual({
      reason: 'CODE_INVALID',
      domain: 'phone-verify',
      metadata: { attemptsRemaining: '4' },
    });

    // VerifyPhone with the code SetPhone returned: verified, on REST as on the client
    const verified = await users.verifyPhone({ userId, verificationCode: set.verificationCode! });
    expect(toJson(VerifyPhoneResponseSchema, verified)).toEqual({
      details: { sequence: SEQUENCE, changeDate: TIME, resourceOwner },
    });
    const afterVerify = await rest();
    expect((afterVerify.user as any).human.phone).toEqual({ phone, isVerified: true });
    expect(toJson(GetUserByIDResponseSchema, await users.getUserByID({ userId }))).toEqual(afterVerify);
  });

  it.each(CLIENT_TRANSPORTS)('%s: NOT_FOUND and UNAUTHENTICATED as REST answers them', async (kind) => {
    const missing = await failure(createUserServiceClient(transport(kind)).getUserByID({ userId: '1' }));
    const restMissing = await phoneApi(t).get('1').expect(404);
    expect({ code: missing.code, message: missing.rawMessage }).toEqual({
      code: Code.NotFound,
      message: restMissing.body.message,
    });
    expect(missing.findDetails(ErrorDetailSchema).map(({ id, message }) => ({ id, message }))).toEqual([
      { id: 'QUERY-Dfbg2', message: 'User could not be found' },
    ]);

    const unauthenticated = await failure(
      createUserServiceClient(transport(kind, 'not-a-token')).getUserByID({ userId: '1' }),
    );
    const restUnauthenticated = await phoneApi(t, 'not-a-token').get('1').expect(401);
    expect({ code: unauthenticated.code, message: unauthenticated.rawMessage }).toEqual({
      code: Code.Unauthenticated,
      message: restUnauthenticated.body.message,
    });
    expect(unauthenticated.findDetails(ErrorDetailSchema).map(({ id, message }) => ({ id, message }))).toEqual([
      { id: 'AUTH-7fs1e', message: 'Token is invalid' },
    ]);
  });

  // last: it closes the app
  it('closing the app ends an open gRPC connection of the client with GOAWAY (app.close() does not wait for it)', async () => {
    const session = new Http2SessionManager(baseUrl);
    sessions.push(session);
    const users = createUserServiceClient(createServerTransport(t.adminToken, { baseUrl, sessionManager: session }));
    await failure(users.getUserByID({ userId: '1' }));
    expect(session.state()).toBe('open');
    let timer: NodeJS.Timeout | undefined;
    const outcome = await Promise.race([
      t.close().then(() => 'closed'),
      new Promise((resolve) => (timer = setTimeout(() => resolve('still closing after 10 s'), 10_000))),
    ]);
    clearTimeout(timer);
    expect(outcome).toBe('closed');
    // ended cleanly (GOAWAY), not reset: a reset leaves the session manager in state "error"
    expect({ state: session.state(), error: session.error() }).toEqual({ state: 'closed', error: undefined });
  }, 30_000);
});
