import { randomBytes } from 'node:crypto';
import { eventTypesOf } from './support/events';
import { createHuman, createOrg, randomMobile } from './support/factories';
import { FakePlivoVerify, FakeTwilioVerify, FakeVerification } from './support/fake-verify';
import { outboxOf, outboxRowWhen } from './support/outbox';
import { outboxIdle, phoneCodeRow } from './support/phone-api';
import { scrape, valueOf } from './support/prometheus';
import { refusedStart } from './support/refused-start';
import { DATABASES, freePort, startApp, TestApp } from './support/test-app';
import { CallResult, transportCaller, TransportName } from './support/transports';
import { ERROR_DETAIL, ERROR_INFO } from './support/wire';
import { until } from './support/wait';

jest.setTimeout(60_000);

const ACCOUNT_SID = `AC${randomBytes(16).toString('hex')}`;
const AUTH_TOKEN = randomBytes(16).toString('hex');
const SERVICE_SID = `VA${randomBytes(16).toString('hex')}`;
const PLIVO_ID = 'MAZDQ1ZJIYMDZKMMZKYM';
const MAX_ATTEMPTS = 3;

const COMMON_ENV = {
  SMS_PROVIDER: 'none',
  SMS_POLL_INTERVAL: '50ms',
  SMS_RESEND_COOLDOWN: '0s',
  PHONE_CODE_MAX_ATTEMPTS: String(MAX_ATTEMPTS),
  SMS_MAX_PER_USER_PER_HOUR: '3',
};

const twilioEnv = (fake: FakeTwilioVerify): Record<string, string> => ({
  ...COMMON_ENV,
  PHONE_VERIFIER: 'twilio-verify',
  TWILIO_VERIFY_BASE_URL: fake.url,
  TWILIO_VERIFY_SERVICE_SID: SERVICE_SID,
  TWILIO_ACCOUNT_SID: ACCOUNT_SID,
  TWILIO_AUTH_TOKEN: AUTH_TOKEN,
});

/** The error of a refused call, as every transport carries it: code, ID and ErrorInfo reason. */
function refusal(result: CallResult): { code: number; id?: string; reason?: string; attemptsRemaining?: string } {
  expect(result.ok).toBe(false);
  if (result.ok) return { code: 0 };
  const detail = result.details.find((d) => d['@type'] === ERROR_DETAIL) as { id?: string } | undefined;
  const info = result.details.find((d) => d['@type'] === ERROR_INFO) as
    { reason?: string; metadata?: Record<string, string> } | undefined;
  const out: ReturnType<typeof refusal> = { code: result.code, id: detail?.id };
  if (info?.reason) out.reason = info.reason;
  if (info?.metadata?.attemptsRemaining !== undefined) out.attemptsRemaining = info.metadata.attemptsRemaining;
  return out;
}

const wrongCode = (left: number) => ({
  code: 3,
  id: 'COMMAND-eis9R',
  reason: 'CODE_INVALID',
  attemptsRemaining: String(left),
});
const exhausted = { code: 8, id: 'PHONE-attempts', reason: 'ATTEMPTS_EXHAUSTED', attemptsRemaining: '0' };
const expired = { code: 3, id: 'CODE-QvUQ4P' };
const unavailable = { code: 14, id: 'API-unavail' };

/** Another code of the same length than the provider's. */
const wrongFor = (code: string) => code.slice(0, -1) + (code.endsWith('0') ? '1' : '0');

/** One UserService call as the admin through `transport`; its caller closed after. */
async function adminCall(t: TestApp, transport: TransportName, method: string, request: Record<string, unknown>) {
  const caller = transportCaller(t, transport);
  try {
    return await caller.call('UserService', method, request as never, t.adminToken);
  } finally {
    caller.close();
  }
}

/** A user whose number was set with send_code, once the provider started its verification and its id is on the code. */
async function startedVerification(
  t: TestApp,
  orgId: string,
  fake: { to(phone: string): FakeVerification[] },
  transport: TransportName = 'rest',
) {
  const { userId } = await createHuman(t, { orgId });
  const phone = randomMobile();
  const set = await adminCall(t, transport, 'SetPhone', { userId, phone, sendCode: {} });
  expect(set.ok).toBe(true);
  const verification = await until('the verification at the provider', () => fake.to(phone)[0]);
  await until('its id on the code', async () => (await phoneCodeRow(t, userId))?.verificationId);
  return { userId, phone, verification };
}

describe.each(DATABASES)('delegated verification: Twilio Verify (%s)', (db) => {
  const fake = new FakeTwilioVerify(ACCOUNT_SID, AUTH_TOKEN, SERVICE_SID);
  let t: TestApp;
  let orgId: string;

  beforeAll(async () => {
    await fake.start();
    t = await startApp(db, { ...twilioEnv(fake), METRICS_PORT: String(await freePort()) });
    orgId = await createOrg(t);
  }, 60_000);
  afterAll(async () => {
    await t?.close();
    await fake.close();
  });
  afterEach(() => {
    fake.down = false;
    fake.checkAnswer = undefined;
  });

  const call = (transport: TransportName, method: string, request: Record<string, unknown>) =>
    adminCall(t, transport, method, request);
  const verify = (userId: string, verificationCode: string, transport: TransportName = 'rest') =>
    call(transport, 'VerifyPhone', { userId, verificationCode });
  const counted = async (answer: string) =>
    valueOf(await scrape(t), 'pv_verifier_checks_total', { verifier: 'twilio-verify', answer });
  const startsFor = (phone: string) =>
    fake.requests.filter((r) => r.path.endsWith('/Verifications') && r.form.get('To') === phone);

  const userWithVerification = (transport: TransportName = 'rest') => startedVerification(t, orgId, fake, transport);

  it.each<TransportName>(['rest', 'grpc'])(
    'SetPhone starts a verification at Twilio; VerifyPhone asks Twilio and verifies the number (%s)',
    async (transport) => {
      const { userId, phone, verification } = await userWithVerification(transport);
      expect(verification).toMatchObject({ channel: 'sms', status: 'pending' });
      // Twilio sends its own code: no text of ours went anywhere
      expect(startsFor(phone).every((r) => !r.form.has('Body') && !r.form.has('CustomCode'))).toBe(true);
      expect((await phoneCodeRow(t, userId))?.verificationId).toBe(verification.id);
      const [row] = await outboxOf(t, userId);
      expect(row).toMatchObject({ status: 'delivered', provider: 'twilio-verify', sealedCode: null });

      const checked = fake.checks.length;
      const approved = await counted('approved');
      const result = await verify(userId, verification.code, transport);
      expect(result.ok).toBe(true);
      expect(await counted('approved')).toBe(approved + 1);
      expect(fake.checks.length).toBe(checked + 1);
      const check = fake.checks.at(-1)!.form;
      expect({ sid: check.get('VerificationSid'), code: check.get('Code') }).toEqual({
        sid: verification.id,
        code: verification.code,
      });
      expect(verification.status).toBe('approved');
      expect(await eventTypesOf(t, userId, 'user.human.phone.')).toContain('user.human.phone.verified');
      expect((await phoneCodeRow(t, userId))?.consumedAt).not.toBeNull();
    },
  );

  it.each<TransportName>(['rest', 'grpc'])(
    'a wrong code is the wrong-code error; once the attempts are used the service refuses without asking Twilio (%s)',
    async (transport) => {
      const { userId, verification } = await userWithVerification();
      const checked = fake.checks.length;
      for (let left = MAX_ATTEMPTS - 1; left >= 0; left--) {
        expect(refusal(await verify(userId, wrongFor(verification.code), transport))).toEqual(wrongCode(left));
      }
      expect(fake.checks.length).toBe(checked + MAX_ATTEMPTS);
      // even the right code: the service's own limit holds, Twilio is not asked
      expect(refusal(await verify(userId, verification.code, transport))).toEqual(exhausted);
      expect(fake.checks.length).toBe(checked + MAX_ATTEMPTS);
      expect(verification.status).toBe('pending');
    },
  );

  it('a verification Twilio no longer has (20404: expired) is the expired error', async () => {
    const { userId, phone, verification } = await userWithVerification();
    fake.expire(phone);
    expect(refusal(await verify(userId, verification.code))).toEqual(expired);
    expect(fake.checks.at(-1)?.answered).toBe(404);
    expect(await eventTypesOf(t, userId, 'user.human.phone.verification.')).toEqual([
      'user.human.phone.verification.failed',
    ]);
  });

  it("Twilio's max check attempts (60202) is the too-many-attempts error, and the code is dead here too", async () => {
    const { userId, verification } = await userWithVerification();
    fake.checkAnswer = () => ({
      status: 429,
      body: JSON.stringify({ code: 60202, message: 'Max check attempts reached', status: 429 }),
    });
    expect(refusal(await verify(userId, verification.code))).toEqual(exhausted);
    const checked = fake.checks.length;
    fake.checkAnswer = undefined;
    expect(refusal(await verify(userId, verification.code))).toEqual(exhausted);
    expect(fake.checks.length).toBe(checked);
  });

  it.each<TransportName>(['rest', 'grpc'])(
    'Twilio down: 503 UNAVAILABLE with nothing used up; the same code verifies once it is back (%s)',
    async (transport) => {
      const { userId, verification } = await userWithVerification();
      fake.down = true;
      const before = await counted('unavailable');
      for (let i = 0; i < MAX_ATTEMPTS + 1; i++) {
        expect(refusal(await verify(userId, verification.code, transport))).toEqual(unavailable);
      }
      expect(await counted('unavailable')).toBe(before + MAX_ATTEMPTS + 1);
      // the attempts were given back: more outages than attempts leave the code usable
      expect((await phoneCodeRow(t, userId))?.attempts).toBe(0);
      fake.down = false;
      expect((await verify(userId, verification.code, transport)).ok).toBe(true);
    },
  );

  it('Twilio down when the code is to be sent: the outbox starts the verification once it is back', async () => {
    const { userId } = await createHuman(t, { orgId });
    const phone = randomMobile();
    fake.down = true;
    expect((await call('rest', 'SetPhone', { userId, phone, sendCode: {} })).ok).toBe(true);
    const failed = await outboxRowWhen(t, userId, 'a failed start', (r) => r.lastError !== null && !r.lockedUntil);
    expect(failed.status).toBe('pending');
    expect(fake.to(phone)).toEqual([]);
    fake.down = false;
    t.clock.advance(failed.nextAttemptAt.getTime() - t.clock.now().getTime() + 1);
    const verification = await until('the verification at Twilio', () => fake.to(phone)[0]);
    await until('its id on the code', async () => (await phoneCodeRow(t, userId))?.verificationId);
    expect((await verify(userId, verification.code)).ok).toBe(true);
  });

  it('the send limits refuse before Twilio is asked', async () => {
    const { userId, phone } = await userWithVerification();
    for (let i = 0; i < 2; i++) expect((await call('rest', 'ResendPhoneCode', { userId, sendCode: {} })).ok).toBe(true);
    await until('three starts', () => startsFor(phone).length === 3);
    // SMS_MAX_PER_USER_PER_HOUR=3
    expect(refusal(await call('rest', 'ResendPhoneCode', { userId, sendCode: {} }))).toMatchObject({
      code: 8,
      id: 'PHONE-ratelimit',
    });
    await outboxIdle(t);
    expect(startsFor(phone)).toHaveLength(3);
  });

  it.each<TransportName>(['rest', 'grpc'])(
    'return_code is refused: the provider draws and keeps the code (%s)',
    async (transport) => {
      const { userId } = await createHuman(t, { orgId });
      const phone = randomMobile();
      const result = await call(transport, 'SetPhone', { userId, phone, returnCode: {} });
      expect(refusal(result)).toEqual({ code: 9, id: 'PHONE-dlg8ted', reason: 'CODE_HELD_BY_PROVIDER' });
      expect(fake.to(phone)).toEqual([]);
      expect(await phoneCodeRow(t, userId)).toBeNull();
    },
  );
});

describe.each(DATABASES)('delegated verification: the pumping guard still refuses first (%s)', (db) => {
  const fake = new FakeTwilioVerify(ACCOUNT_SID, AUTH_TOKEN, SERVICE_SID);
  let t: TestApp;

  beforeAll(async () => {
    await fake.start();
    t = await startApp(db, {
      ...twilioEnv(fake),
      SMS_FRAUD_MODE: 'enforce',
      SMS_FRAUD_PREFIX_FLOOR: '30',
      SMS_FRAUD_PREFIX_HOURLY_FLOOR: '10',
      SMS_FRAUD_COUNTRY_FLOOR: '500',
      SMS_FRAUD_COUNTRY_HOURLY_FLOOR: '500',
      SMS_FRAUD_ADDRESS_FLOOR: '1000',
    });
  }, 60_000);
  afterAll(async () => {
    await t?.close();
    await fake.close();
  });

  it('blocks the send that breaks a rule with PHONE-pump1ng: no verification is started for it', async () => {
    const orgId = await createOrg(t);
    const numbers = Array.from({ length: 12 }, (_, i) => `+4179555${String(1000 + i)}`);
    const caller = transportCaller(t, 'rest');
    const results: CallResult[] = [];
    for (const phone of numbers) {
      const { userId } = await createHuman(t, { orgId });
      results.push(await caller.call('UserService', 'SetPhone', { userId, phone, sendCode: {} }, t.adminToken));
    }
    // max(10, 30 / 6): the 12th unverified send to the prefix within the hour is blocked
    expect(results.slice(0, 11).every((r) => r.ok)).toBe(true);
    expect(refusal(results[11])).toMatchObject({ code: 8, id: 'PHONE-pump1ng' });
    await until('eleven verifications', () => fake.verifications.length === 11);
    expect(fake.to(numbers[11])).toEqual([]);
  });
});

describe.each(DATABASES)('delegated verification: Plivo Verify (%s)', (db) => {
  const fake = new FakePlivoVerify(PLIVO_ID, AUTH_TOKEN);
  let t: TestApp;
  let orgId: string;

  beforeAll(async () => {
    await fake.start();
    t = await startApp(db, {
      ...COMMON_ENV,
      PHONE_VERIFIER: 'plivo-verify',
      PLIVO_VERIFY_BASE_URL: fake.url,
      PLIVO_AUTH_ID: PLIVO_ID,
      PLIVO_AUTH_TOKEN: AUTH_TOKEN,
    });
    orgId = await createOrg(t);
  }, 60_000);
  afterAll(async () => {
    await t?.close();
    await fake.close();
  });
  afterEach(() => {
    fake.down = false;
  });

  const verify = (userId: string, verificationCode: string, transport: TransportName = 'rest') =>
    adminCall(t, transport, 'VerifyPhone', { userId, verificationCode });

  async function userWithSession(): Promise<{ userId: string; phone: string; session: FakeVerification }> {
    const { userId, phone, verification } = await startedVerification(t, orgId, fake);
    return { userId, phone, session: verification };
  }

  it.each<TransportName>(['rest', 'grpc'])(
    'SetPhone starts a session; VerifyPhone validates the OTP with Plivo (%s)',
    async (transport) => {
      const { userId, session } = await userWithSession();
      expect(session.channel).toBe('sms');
      expect(refusal(await verify(userId, wrongFor(session.code), transport))).toEqual(wrongCode(MAX_ATTEMPTS - 1));
      expect((await verify(userId, session.code, transport)).ok).toBe(true);
      const validate = fake.checks.at(-1)!;
      expect(validate.path).toBe(`/v1/Account/${PLIVO_ID}/Verify/Session/${session.id}/`);
      expect(validate.json).toEqual({ otp: session.code });
      expect(session.status).toBe('approved');
    },
  );

  it('an expired session is the expired error; Plivo down is 503', async () => {
    const { userId, phone, session } = await userWithSession();
    fake.down = true;
    expect(refusal(await verify(userId, session.code))).toEqual(unavailable);
    fake.down = false;
    fake.expire(phone);
    expect(refusal(await verify(userId, session.code))).toEqual(expired);
  });
});

describe('delegated verification: settings', () => {
  it('refuses to start Twilio Verify without a service SID, in one fatal line naming it', async () => {
    const { error, lines } = await refusedStart('sqlite', {
      PHONE_VERIFIER: 'twilio-verify',
      TWILIO_ACCOUNT_SID: ACCOUNT_SID,
      TWILIO_AUTH_TOKEN: AUTH_TOKEN,
    });
    expect(error.problems).toEqual(['TWILIO_VERIFY_SERVICE_SID: required when PHONE_VERIFIER=twilio-verify']);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({ level: 60, settings: ['TWILIO_VERIFY_SERVICE_SID'] });
  });
});
