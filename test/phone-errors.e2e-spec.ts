import { bearer, DATABASES, TestApp } from './support/test-app';
import { createHuman, createMachineWithToken, createOrg } from './support/factories';
import { eventsOf } from './support/events';
import {
  detailOf,
  expectError,
  expectValidationError,
  phoneApi,
  phoneCodeRow,
  phoneErrors,
  wrongCodeFor,
  startPhoneApp,
} from './support/phone-api';
import { ERROR_INFO, RETRY_INFO } from './support/wire';

const PHONE = '+41791234567';
const TEN_MINUTES = 600_000;
const DAY = 86_400_000;

/** Contract §6, the phone-path catalogue, row by row over REST. */
describe.each(DATABASES)('phone error catalogue (%s)', (db) => {
  let t: TestApp;
  let api: ReturnType<typeof phoneApi>;
  let orgId: string;

  const userWithCode = async (phone = PHONE) => {
    const { userId, phoneCode } = await createHuman(t, { orgId, phone, phoneMode: 'returnCode' });
    return { userId, code: phoneCode! };
  };

  beforeAll(async () => {
    t = await startPhoneApp(db);
    api = phoneApi(t);
    orgId = await createOrg(t);
  }, 60_000);
  afterAll(() => t?.close(), 60_000);

  describe('request validation → 400 INVALID_ARGUMENT, before the user is loaded', () => {
    it('rejects an empty, a missing and a 21-character verification code; accepts 20 characters', async () => {
      const { userId } = await userWithCode();
      expectValidationError(await api.verify(userId, ''), ['verificationCode']);
      expectValidationError(await api.verify(userId, undefined), ['verificationCode']);
      expectValidationError(await api.verify(userId, '1'.repeat(21)), ['verificationCode']);
      expectValidationError(await api.verify(userId, 123456), ['verificationCode']);
      // 20 characters pass validation and reach the code check
      phoneErrors.wrongCode(await api.verify(userId, '1'.repeat(20)), 4);
    });

    it('says a missing or empty field is required, and names the rule a present one breaks', async () => {
      for (const code of [undefined, null, '']) {
        const res = await api.verify('1234', code);
        expectValidationError(res, ['verificationCode']);
        expect(res.body.message).toBe(
          'invalid request: verificationCode: verificationCode is required (VALIDATION-1nv4l)',
        );
      }
      const long = await api.verify('1234', '1'.repeat(21));
      expect(long.body.message).toBe(
        'invalid request: verificationCode: verificationCode must be between 1 and 20 characters long (VALIDATION-1nv4l)',
      );
      const noPhone = await api.set('1234', { returnCode: {} });
      expect(noPhone.body.message).toBe('invalid request: phone: phone is required (VALIDATION-1nv4l)');
    });

    it('rejects isVerified: false', async () => {
      const { userId } = await userWithCode();
      expectValidationError(await api.set(userId, { phone: '+41791234568', isVerified: false }), ['isVerified']);
    });

    it('rejects two members of the verification oneof at once', async () => {
      const { userId } = await userWithCode();
      expectValidationError(await api.set(userId, { phone: '+41791234568', sendCode: {}, returnCode: {} }), [
        'sendCode',
        'returnCode',
      ]);
      expectValidationError(await api.set(userId, { phone: '+41791234568', returnCode: {}, isVerified: true }), [
        'returnCode',
        'isVerified',
      ]);
      expectValidationError(await api.resend(userId, { send_code: {}, return_code: {} }), ['sendCode', 'returnCode']);
      // nothing changed
      expect((await api.get(userId)).body.user.human.phone).toEqual({ phone: PHONE });
    });

    it('rejects a missing, empty or too long phone', async () => {
      const { userId } = await userWithCode();
      expectValidationError(await api.set(userId, {}), ['phone']);
      expectValidationError(await api.set(userId, { phone: '', returnCode: {} }), ['phone']);
      expectValidationError(await api.set(userId, { phone: '1'.repeat(201) }), ['phone']);
    });

    it('validates before loading the user: an unknown user with a bad request is a 400', async () => {
      expectValidationError(await api.verify('no-such-user', ''), ['verificationCode']);
      expectValidationError(await api.set('no-such-user', {}), ['phone']);
      expectValidationError(await api.set('x'.repeat(201), { phone: PHONE }), ['userId']);
    });
  });

  describe('user missing, deleted or a machine user → 404 COMMAND-ieJ2e', () => {
    const allRoutes = (userId: string) => [
      api.set(userId, { phone: PHONE, returnCode: {} }),
      api.resend(userId, { returnCode: {} }),
      api.verify(userId, '123456'),
      api.remove(userId),
    ];

    it('for a user that does not exist', async () => {
      for (const res of await Promise.all(allRoutes('69629023906488334'))) phoneErrors.notFound(res);
    });

    it('for a deleted user', async () => {
      const { userId } = await userWithCode();
      await t.http().delete(`/v2/users/${userId}`).set(bearer(t.adminToken)).expect(200);
      for (const res of await Promise.all(allRoutes(userId))) phoneErrors.notFound(res);
      expect(await phoneCodeRow(t, userId)).toBeNull();
    });

    it('for a machine user', async () => {
      const machine = await createMachineWithToken(t, orgId);
      for (const res of await Promise.all(allRoutes(machine.userId))) phoneErrors.notFound(res);
    });
  });

  describe('invalid number → 400 PHONE-so0wa', () => {
    it.each([
      ['+41 12 345 67 89', 'it is not a valid number for its country'],
      ['+41 79 123', 'it is not a valid number for its country'],
      ['not a number', 'it cannot be read as a phone number'],
    ])('%s', async (phone, why) => {
      const { userId } = await userWithCode();
      const res = await api.set(userId, { phone, returnCode: {} });
      expectError(res, 400, 3, 'PHONE-so0wa', `Phone is invalid: ${why}`);
      expect(detailOf(res, ERROR_INFO)).toMatchObject({ reason: 'PHONE_INVALID' });
      expect((await api.get(userId)).body.user.human.phone).toEqual({ phone: PHONE });
    });

    it('a national number without DEFAULT_PHONE_REGION: the message asks for a country code', async () => {
      const { userId } = await userWithCode();
      const res = await api.set(userId, { phone: '079 123 45 67', returnCode: {} });
      expectError(
        res,
        400,
        3,
        'PHONE-so0wa',
        'Phone is invalid: it must start with + and a country code (no DEFAULT_PHONE_REGION is configured)',
      );
    });

    it('AddHumanUser applies the same check', async () => {
      const res = await t
        .http()
        .post('/v2/users/human')
        .set(bearer(t.adminToken))
        .send({
          organization: { orgId },
          profile: { givenName: 'Minnie', familyName: 'Mouse' },
          email: { email: 'invalid.number@example.com', isVerified: true },
          phone: { phone: '+41 12 345 67 89', returnCode: {} },
        });
      expectError(res, 400, 3, 'PHONE-so0wa', 'Phone is invalid: it is not a valid number for its country');
    });
  });

  describe('numbers in several forms are stored as E.164', () => {
    it.each(['+41 79 123 45 67', '0041791234567', '0041 79 123 45 67', '+41-79-123-45-67', '(+41) 79 123 45 67'])(
      '%s → +41791234567, and the same number in another form is "not changed"',
      async (form) => {
        const { userId } = await userWithCode('+44 7911 123456');
        const set = await api.set(userId, { phone: form, returnCode: {} });
        expect(set.status).toBe(200);
        expect((await api.get(userId)).body.user.human.phone).toEqual({ phone: '+41791234567' });
        for (const other of ['+41791234567', '0041 79 123 45 67', '+41 (0)79 123 45 67']) {
          phoneErrors.notChanged(await api.set(userId, { phone: other, returnCode: {} }));
        }
      },
    );
  });

  describe('SetPhone', () => {
    it('with the stored number → 400 FAILED_PRECONDITION COMMAND-Uch5e, also once verified', async () => {
      const { userId, code } = await userWithCode();
      phoneErrors.notChanged(await api.set(userId, { phone: PHONE, returnCode: {} }));
      await api.verify(userId, code).expect(200);
      phoneErrors.notChanged(await api.set(userId, { phone: '+41 79 123 45 67', isVerified: true }));
      expect((await api.get(userId)).body.user.human.phone).toEqual({ phone: PHONE, isVerified: true });
    });

    it('returns a code of PHONE_CODE_LENGTH (default 6) digits', async () => {
      const { userId } = await userWithCode();
      const res = await api.set(userId, { phone: '+41791234568', returnCode: {} }).expect(200);
      expect(res.body.verificationCode).toMatch(/^\d{6}$/);
    });
  });

  describe('ResendPhoneCode', () => {
    it('with no code pending → 400 FAILED_PRECONDITION PHONE-5xrra88eq8', async () => {
      const noPhone = await createHuman(t, { orgId });
      phoneErrors.codeEmpty(await api.resend(noPhone.userId, { returnCode: {} }));

      const verified = await createHuman(t, { orgId, phone: PHONE, phoneMode: 'isVerified' });
      phoneErrors.codeEmpty(await api.resend(verified.userId, { returnCode: {} }));

      const { userId, code } = await userWithCode();
      await api.verify(userId, code).expect(200);
      phoneErrors.codeEmpty(await api.resend(userId, {}));
    });
  });

  describe('VerifyPhone', () => {
    it('wrong code → 400 INVALID_ARGUMENT COMMAND-eis9R with the attempts left (message and ErrorInfo)', async () => {
      const { userId, code } = await userWithCode();
      phoneErrors.wrongCode(await api.verify(userId, wrongCodeFor(code)), 4);
      phoneErrors.wrongCode(await api.verify(userId, '000000000'), 3);
      phoneErrors.wrongCode(await api.verify(userId, 'abcdef'), 2);
      phoneErrors.wrongCode(await api.verify(userId, wrongCodeFor(code)), 1);
      await api.verify(userId, code).expect(200);
    });

    it('expired (clock past PHONE_CODE_TTL) → 400 CODE-QvUQ4P, even with the right code', async () => {
      const { userId, code } = await userWithCode();
      t.clock.advance(TEN_MINUTES - 5_000);
      phoneErrors.wrongCode(await api.verify(userId, wrongCodeFor(code)), 4);
      t.clock.advance(5_001);
      phoneErrors.expired(await api.verify(userId, code));
      phoneErrors.expired(await api.verify(userId, wrongCodeFor(code)));
      expect((await api.get(userId)).body.user.human.phone).toEqual({ phone: PHONE });
      // a new code works again
      const resent = await api.resend(userId, { returnCode: {} }).expect(200);
      await api.verify(userId, resent.body.verificationCode).expect(200);
    });

    it('no code pending or already verified → 400 FAILED_PRECONDITION COMMAND-2M9fs', async () => {
      const noPhone = await createHuman(t, { orgId });
      phoneErrors.noCode(await api.verify(noPhone.userId, '123456'));

      const verified = await createHuman(t, { orgId, phone: PHONE, phoneMode: 'isVerified' });
      phoneErrors.noCode(await api.verify(verified.userId, '123456'));

      const { userId, code } = await userWithCode();
      await api.verify(userId, code).expect(200);
      phoneErrors.noCode(await api.verify(userId, code));
    });

    it('attempts exhausted → 429 RESOURCE_EXHAUSTED PHONE-attempts; the code is dead, even the right one', async () => {
      const { userId, code } = await userWithCode();
      for (let left = 4; left >= 0; left--) phoneErrors.wrongCode(await api.verify(userId, wrongCodeFor(code)), left);
      const exhausted = await api.verify(userId, wrongCodeFor(code));
      phoneErrors.exhausted(exhausted);
      expect(detailOf(exhausted, ERROR_INFO)).toMatchObject({
        reason: 'ATTEMPTS_EXHAUSTED',
        metadata: { attemptsRemaining: '0' },
      });
      phoneErrors.exhausted(await api.verify(userId, code));
      expect((await phoneCodeRow(t, userId))!.attempts).toBe(5);
      expect((await api.get(userId)).body.user.human.phone).toEqual({ phone: PHONE });
      // a new code starts afresh
      const resent = await api.resend(userId, { returnCode: {} }).expect(200);
      await api.verify(userId, resent.body.verificationCode).expect(200);
    });
  });

  describe('RemovePhone', () => {
    it('without a phone → 400 FAILED_PRECONDITION COMMAND-ieJ2e', async () => {
      const noPhone = await createHuman(t, { orgId });
      phoneErrors.noPhoneToRemove(await api.remove(noPhone.userId));
      const { userId } = await userWithCode();
      await api.remove(userId).expect(200);
      phoneErrors.noPhoneToRemove(await api.remove(userId));
    });
  });

  describe('authentication and permission', () => {
    const everyRoute = (a: ReturnType<typeof phoneApi>, userId: string) => [
      a.set(userId, { phone: '+41791234568' }),
      a.resend(userId, {}),
      a.verify(userId, '123456'),
      a.remove(userId),
    ];

    it('caller without permission → 403 PERMISSION_DENIED AUTH-AWfge, nothing changes', async () => {
      const { userId, code } = await userWithCode();
      const viewer = await createMachineWithToken(t, orgId, [{ scope: orgId, role: 'ORG_OWNER_VIEWER' }]);
      const before = await eventsOf(t, userId);
      for (const res of await Promise.all(everyRoute(phoneApi(t, viewer.token), userId))) phoneErrors.forbidden(res);
      expect(await eventsOf(t, userId)).toEqual(before);
      // one that may not even read the user is told it is missing (issue 26, finding 8)
      const roleless = await createMachineWithToken(t, orgId);
      for (const res of await Promise.all(everyRoute(phoneApi(t, roleless.token), userId))) phoneErrors.notFound(res);
      expect(await eventsOf(t, userId)).toEqual(before);
      expect((await phoneCodeRow(t, userId))!.attempts).toBe(0);
      await api.verify(userId, code).expect(200);
    });

    it('no token → 401 AUTH-n0t0k, an unknown one → 401 AUTH-7fs1e, both with WWW-Authenticate', async () => {
      const { userId } = await userWithCode();
      const anonymous = [
        t.http().post(`/v2/users/${userId}/phone`).send({ phone: PHONE }),
        t.http().post(`/v2/users/${userId}/phone/resend`).send({}),
        t.http().post(`/v2/users/${userId}/phone/verify`).send({ verificationCode: '' }),
        t.http().delete(`/v2/users/${userId}/phone`),
        t.http().post(`/v2/users/${userId}/phone/verify`).set('Authorization', 'Basic YWRtaW46YWRtaW4=').send({}),
      ];
      for (const res of await Promise.all(anonymous)) phoneErrors.noToken(res);
      for (const res of await Promise.all(everyRoute(phoneApi(t, 'not-a-real-token'), userId))) {
        phoneErrors.unauthenticated(res);
      }
    });
  });
});

describe.each(DATABASES)('phone per-user daily failure limit (%s)', (db) => {
  let t: TestApp;
  let api: ReturnType<typeof phoneApi>;

  beforeAll(async () => {
    t = await startPhoneApp(db, { PHONE_MAX_FAILED_PER_DAY: '3', PHONE_CODE_MAX_ATTEMPTS: '10' });
    api = phoneApi(t);
  }, 60_000);
  afterAll(() => t?.close(), 60_000);

  /** Retry-After: until the oldest counted failure leaves the rolling 24 h window. */
  const expectRateLimited = (res: Awaited<ReturnType<typeof api.verify>>, maxSeconds: number) => {
    phoneErrors.rateLimited(res);
    const seconds = Number(res.headers['retry-after']);
    expect(seconds).toBeGreaterThan(maxSeconds - 30);
    expect(seconds).toBeLessThanOrEqual(maxSeconds);
    expect(detailOf(res, RETRY_INFO)).toEqual({ '@type': RETRY_INFO, retryDelay: `${seconds}s` });
  };

  it('→ 429 PHONE-ratelimit with Retry-After and RetryInfo across codes; lifts after 24 h', async () => {
    const { userId, phoneCode } = await createHuman(t, { phone: PHONE, phoneMode: 'returnCode' });
    const other = await createHuman(t, { phone: PHONE, phoneMode: 'returnCode' });
    phoneErrors.wrongCode(await api.verify(userId, wrongCodeFor(phoneCode!)), 9);
    phoneErrors.wrongCode(await api.verify(userId, wrongCodeFor(phoneCode!)), 8);
    // the limit counts across codes: a new code does not reset it
    const second = (await api.resend(userId, { returnCode: {} }).expect(200)).body.verificationCode as string;
    phoneErrors.wrongCode(await api.verify(userId, wrongCodeFor(second)), 9);
    expectRateLimited(await api.verify(userId, wrongCodeFor(second)), DAY / 1000);
    expectRateLimited(await api.verify(userId, second), DAY / 1000);
    expect((await api.get(userId)).body.user.human.phone).toEqual({ phone: PHONE });
    // the limit is per user
    await api.verify(other.userId, other.phoneCode).expect(200);

    t.clock.advance(DAY / 2);
    expectRateLimited(await api.verify(userId, second), DAY / 2000);
    t.clock.advance(DAY / 2 + 60_000);
    const third = (await api.resend(userId, { returnCode: {} }).expect(200)).body.verificationCode as string;
    phoneErrors.wrongCode(await api.verify(userId, wrongCodeFor(third)), 9);
    await api.verify(userId, third).expect(200);
    expect((await api.get(userId)).body.user.human.phone).toEqual({ phone: PHONE, isVerified: true });
    // every counted check is an event an operator can see; refusals by the limit changed nothing
    // (no event, no failure counted: they did not extend the lock-out)
    const reasons = (await eventsOf(t, userId))
      .filter((e) => e.type === 'user.human.phone.verification.failed')
      .map((e) => e.payload.reason);
    expect(reasons).toEqual(['wrong_code', 'wrong_code', 'wrong_code', 'wrong_code']);
  });
});

describe.each(DATABASES)('phone numbers with DEFAULT_PHONE_REGION=CH (%s)', (db) => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startPhoneApp(db, { DEFAULT_PHONE_REGION: 'CH' });
  }, 60_000);
  afterAll(() => t?.close(), 60_000);

  it('reads national numbers in the default region, international ones as before', async () => {
    const api = phoneApi(t);
    const { userId } = await createHuman(t, { phone: '079 123 45 67', phoneMode: 'returnCode' });
    expect((await api.get(userId)).body.user.human.phone).toEqual({ phone: '+41791234567' });
    phoneErrors.notChanged(await api.set(userId, { phone: '+41 79 123 45 67', returnCode: {} }));
    await api.set(userId, { phone: '078 765 43 21', returnCode: {} }).expect(200);
    expect((await api.get(userId)).body.user.human.phone).toEqual({ phone: '+41787654321' });
    await api.set(userId, { phone: '+49 1512 3456789', returnCode: {} }).expect(200);
    expect((await api.get(userId)).body.user.human.phone).toEqual({ phone: '+4915123456789' });
    expectError(
      await api.set(userId, { phone: '012 345 67 89', returnCode: {} }),
      400,
      3,
      'PHONE-so0wa',
      'Phone is invalid: it is not a valid number for its country',
    );
  });
});

describe.each(DATABASES)('phone send limits (%s)', (db) => {
  let t: TestApp;
  let api: ReturnType<typeof phoneApi>;

  beforeAll(async () => {
    t = await startPhoneApp(db, {
      SMS_RESEND_COOLDOWN: '60s',
      SMS_MAX_PER_USER_PER_HOUR: '3',
      SMS_MAX_PER_NUMBER_PER_DAY: '1000',
    });
    api = phoneApi(t);
  }, 60_000);
  afterAll(() => t?.close(), 60_000);

  const expectRetryAfter = (res: Awaited<ReturnType<typeof api.resend>>, limit: string, maxSeconds: number) => {
    phoneErrors.rateLimited(res);
    const seconds = Number(res.headers['retry-after']);
    expect(seconds).toBeGreaterThan(maxSeconds - 10);
    expect(seconds).toBeLessThanOrEqual(maxSeconds);
    expect(detailOf(res, RETRY_INFO)).toEqual({ '@type': RETRY_INFO, retryDelay: `${seconds}s` });
    expect(detailOf(res, ERROR_INFO)).toMatchObject({ reason: 'RATE_LIMITED', metadata: { limit } });
  };

  it('resend too soon or the hourly quota used → 429 PHONE-ratelimit; returnCode sends nothing and is not limited', async () => {
    const { userId } = await createHuman(t, { phone: PHONE, phoneMode: 'returnCode' });
    await api.resend(userId, {}).expect(200);
    expectRetryAfter(await api.resend(userId, { sendCode: {} }), 'sms_resend_cooldown', 60);
    expectRetryAfter(await api.set(userId, { phone: '+41787654321' }), 'sms_resend_cooldown', 60);
    await api.resend(userId, { returnCode: {} }).expect(200);
    t.clock.advance(61_000);
    await api.resend(userId, {}).expect(200);
    t.clock.advance(61_000);
    await api.set(userId, { phone: '+41787654321' }).expect(200);
    t.clock.advance(61_000);
    // three SMS in this hour: the fourth waits until the first leaves the window
    expectRetryAfter(await api.resend(userId, {}), 'sms_per_user_per_hour', 3600 - 183);
    // a refused send changed nothing: the number is the one of the last successful call
    expect((await api.get(userId)).body.user.human.phone).toEqual({ phone: '+41787654321' });
  });

  it('premium-rate numbers get no SMS → 400 PHONE-n0sms; with returnCode they may be verified', async () => {
    const { userId } = await createHuman(t, { phone: PHONE, phoneMode: 'returnCode' });
    expectError(
      await api.set(userId, { phone: '+41 900 123 456' }),
      400,
      3,
      'PHONE-n0sms',
      'No SMS can be sent to this number: premium-rate and shared-cost numbers receive no SMS',
    );
    const res = await api.set(userId, { phone: '+41 900 123 456', returnCode: {} }).expect(200);
    await api.verify(userId, res.body.verificationCode).expect(200);
  });
});

describe.each(DATABASES)('phone numbers with DEFAULT_PHONE_REGION=US (%s)', (db) => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startPhoneApp(db, { DEFAULT_PHONE_REGION: 'US' });
  }, 60_000);
  afterAll(() => t?.close(), 60_000);

  it('reads national numbers in the default region; "00" is an international prefix everywhere (contract §9)', async () => {
    const api = phoneApi(t);
    const { userId } = await createHuman(t, { phone: '(650) 253-0000', phoneMode: 'returnCode' });
    expect((await api.get(userId)).body.user.human.phone).toEqual({ phone: '+16502530000' });
    await api.set(userId, { phone: '0041 79 123 45 67', returnCode: {} }).expect(200);
    expect((await api.get(userId)).body.user.human.phone).toEqual({ phone: '+41791234567' });
    phoneErrors.notChanged(await api.set(userId, { phone: '011 41 79 123 45 67', returnCode: {} }));
    phoneErrors.notChanged(await api.set(userId, { phone: '+41791234567', returnCode: {} }));
  });
});
