import { randomBytes } from 'node:crypto';
import { FakeTwilioApi } from './fake-channels';
import { deferred, Received, Reply } from './fake-http';
import { SmsSender } from '../../src/phone/sms/sms-sender';
import { deliveryFailure, smsMessage } from './sms-messages';

/** A fake's JSON reply. */
export const jsonReply = (status: number, body: object): Reply => ({ status, body: JSON.stringify(body) });

/** A fake Twilio account with fresh credentials: started for the describe block, emptied before each test. */
export function fakeTwilioAccount(): { sid: string; token: string; fake: FakeTwilioApi } {
  const sid = `AC${randomBytes(16).toString('hex')}`;
  const token = randomBytes(16).toString('hex');
  const fake = new FakeTwilioApi(sid, token);
  beforeAll(() => fake.start());
  afterAll(() => fake.close());
  beforeEach(() => {
    fake.created.length = 0;
    fake.answer = undefined;
  });
  return { sid, token, fake };
}

/**
 * The fake holds its answer past a 200 ms deadline: the send fails with a retryable timeout (the
 * held request is then answered `lateStatus`).
 */
export async function expectTimeoutRetry(
  fake: { answer?: (r: Received) => Reply | Promise<Reply> },
  send: (timeoutMs: number) => Promise<unknown>,
  lateStatus: number,
): Promise<void> {
  const held = deferred<Reply>();
  fake.answer = () => held.promise;
  const error = await deliveryFailure(send(200));
  expect(error).toMatchObject({ retryable: true, code: 'timeout' });
  held.resolve({ status: lateStatus });
}

/** The send fails as `expected`, and its reason does not hold `code` (the one-time code). */
export async function expectFailureWithoutCode(
  send: Promise<unknown>,
  expected: { retryable: boolean; code: string },
  code: string,
): Promise<void> {
  const error = await deliveryFailure(send);
  expect(error).toMatchObject(expected);
  expect(error.message).not.toContain(code);
}

/**
 * A Twilio sender's failures: each refusal [HTTP status, Twilio code, retryable, metrics' code]
 * without the one-time code in its reason, refused credentials (final) and a timeout (retryable).
 */
export function itHandlesTwilioFailures(
  fake: FakeTwilioApi,
  sender: (options: { authToken?: string; timeoutMs?: number }) => SmsSender,
  refusals: [number, number, boolean, string][],
): void {
  const message = smsMessage();
  it.each(refusals)(
    'maps HTTP %i with Twilio code %i to retryable=%s, metrics code %s',
    async (status, code, retryable, label) => {
      fake.answer = () => jsonReply(status, { code, message: `refused ${message.code}`, status });
      await expectFailureWithoutCode(sender({}).send(message), { retryable, code: label }, message.code);
    },
  );

  it('gives up when Twilio refuses the credentials', async () => {
    const error = await deliveryFailure(sender({ authToken: 'wrong-token-0123456789' }).send(message));
    expect(error).toMatchObject({ retryable: false, code: 'twilio_20003' });
  });

  it('retries after a timeout', async () => {
    await expectTimeoutRetry(fake, (timeoutMs) => sender({ timeoutMs }).send(message), 201);
  });
}
