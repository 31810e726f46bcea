// Calls the generated types must refuse (test/openapi-client.e2e-spec.ts expects tsc to fail on each line).
import createClient from 'openapi-fetch';
import type { paths } from './schema';

const client = createClient<paths>({ baseUrl: 'http://127.0.0.1' });

export async function misuse(): Promise<void> {
  // no phone in the body
  await client.POST('/v2/users/{userId}/phone', { params: { path: { userId: '1' } }, body: { returnCode: {} } });
  // no userId in the path
  await client.POST('/v2/users/{userId}/phone/verify', { params: { path: {} }, body: { verificationCode: '1' } });
  const set = await client.POST('/v2/users/{userId}/phone', {
    params: { path: { userId: '1' } },
    body: { phone: '1' },
  });
  // the code is a string, not a number
  const code: number | undefined = set.data?.verificationCode;
  // no such route
  await client.POST('/v2/users/{userId}/phones', { params: { path: { userId: '1' } } });
  return void code;
}
