/**
 * Sets a phone number and verifies it over Connect (what ZITADEL's SDKs speak), gRPC-web (what a
 * browser speaks, here from Node) or native gRPC, all on the one HTTP port, with connect-es
 * clients generated from proto/ (gen/, `npm run examples:gen`).
 *
 *   npx ts-node --transpile-only examples/verify-phone.ts connect
 *   npx ts-node --transpile-only examples/verify-phone.ts grpc-web
 *   npx ts-node --transpile-only examples/verify-phone.ts grpc
 *
 * Settings: PV_TOKEN (default: the token in data/admin.pat), PV_API (default http://localhost:8080).
 */
import { Code, ConnectError, createClient, type Interceptor } from '@connectrpc/connect';
import { createConnectTransport, createGrpcTransport, createGrpcWebTransport } from '@connectrpc/connect-node';
import { readFileSync } from 'node:fs';
import { OrganizationService } from './gen/zitadel/org/v2/org_service_pb';
import { UserService } from './gen/zitadel/user/v2/user_service_pb';

async function main(kind: string): Promise<void> {
  const token = process.env.PV_TOKEN ?? readFileSync('data/admin.pat', 'utf8').trim();
  const bearer: Interceptor = (next) => (req) => {
    req.header.set('authorization', `Bearer ${token}`);
    return next(req);
  };
  const baseUrl = process.env.PV_API ?? 'http://localhost:8080';
  const transport =
    kind === 'grpc'
      ? createGrpcTransport({ baseUrl, interceptors: [bearer] })
      : kind === 'connect'
        ? createConnectTransport({ baseUrl, httpVersion: '1.1', interceptors: [bearer] })
        : createGrpcWebTransport({ baseUrl, httpVersion: '1.1', interceptors: [bearer] });
  const orgs = createClient(OrganizationService, transport);
  const users = createClient(UserService, transport);

  const { organizationId } = await orgs.addOrganization({ name: `Example ${Date.now()}` });
  const { userId } = await users.addHumanUser({
    organization: { org: { case: 'orgId', value: organizationId } },
    profile: { givenName: 'Minnie', familyName: 'Mouse' },
    email: { email: `minnie.${Date.now()}@example.com`, verification: { case: 'isVerified', value: true } },
  });
  console.log(`user ${userId} in organization ${organizationId}`);

  // returnCode needs user.write; without it the code goes out by SMS
  const set = await users.setPhone({
    userId,
    phone: '+41 79 123 45 67',
    verification: { case: 'returnCode', value: {} },
  });
  const code = set.verificationCode ?? '';

  const wrong = code === '000000' ? '111111' : '000000';
  try {
    await users.verifyPhone({ userId, verificationCode: wrong });
  } catch (error) {
    const e = ConnectError.from(error);
    console.log(`wrong code: ${Code[e.code]} ${e.rawMessage}`);
  }
  await users.verifyPhone({ userId, verificationCode: code });
  const { user } = await users.getUserByID({ userId });
  const phone = user?.type.case === 'human' ? user.type.value.phone : undefined;
  console.log(`phone ${phone?.phone} verified: ${phone?.isVerified}`);
}

main(process.argv[2] ?? 'grpc-web').catch((error: unknown) => {
  console.error(error instanceof Error ? error.message : error);
  process.exit(1);
});
