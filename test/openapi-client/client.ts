// A REST client as a user writes it: openapi-fetch typed by what openapi-typescript generates from
// /openapi.json (schema.d.ts beside this file). test/openapi-client.e2e-spec.ts type-checks and runs it.
import createClient from 'openapi-fetch';
import type { components, paths } from './schema';

type Equal<A, B> = (<T>() => T extends A ? 1 : 2) extends <T>() => T extends B ? 1 : 2 ? true : false;
const typeIs = <T extends true>(ok: T): T => ok;

async function main(): Promise<void> {
  const { PV_API: baseUrl, PV_TOKEN: token, PV_USER_ID: userId } = process.env;
  if (!baseUrl || !token || !userId) throw new Error('set PV_API, PV_TOKEN and PV_USER_ID');
  const client = createClient<paths>({ baseUrl, headers: { Authorization: `Bearer ${token}` } });
  const path = { path: { userId } };

  const set = await client.POST('/v2/users/{userId}/phone', {
    params: path,
    body: { phone: '+41 79 123 45 67', returnCode: {} },
  });
  if (!set.data) throw new Error(`SetPhone: ${set.response.status} ${set.error?.message}`);
  typeIs<Equal<typeof set.data.verificationCode, string | undefined>>(true);
  const code: string | undefined = set.data.verificationCode;
  if (code === undefined) throw new Error('SetPhone with returnCode answered no code');
  console.log(`code sent at sequence ${set.data.details.sequence}`);

  const wrong = await client.POST('/v2/users/{userId}/phone/verify', {
    params: path,
    body: { verificationCode: code === '000000' ? '111111' : '000000' },
  });
  const error: components['schemas']['ErrorBody'] | undefined = wrong.error;
  console.log(`wrong code: ${wrong.response.status} ${error?.code} ${error?.message}`);

  const verified = await client.POST('/v2/users/{userId}/phone/verify', {
    params: path,
    body: { verificationCode: code },
  });
  if (!verified.data) throw new Error(`VerifyPhone: ${verified.response.status} ${verified.error?.message}`);
  console.log(`verified at sequence ${verified.data.details.sequence}`);

  const read = await client.GET('/v2/users/{userId}', { params: path });
  const phone = read.data?.user.human?.phone;
  console.log(`phone ${phone?.phone} verified: ${phone?.isVerified}`);
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
