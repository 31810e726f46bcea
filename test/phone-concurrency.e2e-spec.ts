import { DATABASES, dataSourceOf, TestApp } from './support/test-app';
import { createHuman } from './support/factories';
import { eventsOf } from './support/events';
import { phoneApi, phoneCodeRow, phoneErrors, wrongCodeFor, startPhoneApp } from './support/phone-api';

const MAX_ATTEMPTS = 5;

/** Issue 3, point 3: attempt accounting and consumption are decided by the database. */
describe.each(DATABASES)('phone code concurrency (%s)', (db) => {
  let t: TestApp;
  let api: ReturnType<typeof phoneApi>;

  beforeAll(async () => {
    t = await startPhoneApp(db, { PHONE_CODE_MAX_ATTEMPTS: String(MAX_ATTEMPTS), PHONE_MAX_FAILED_PER_DAY: '1000' });
    api = phoneApi(t);
  }, 60_000);
  afterAll(() => t?.close(), 60_000);

  it(`30 parallel wrong guesses: exactly ${MAX_ATTEMPTS} are compared, the rest are refused`, async () => {
    const { userId, phoneCode } = await createHuman(t, { phone: '+41791234567', phoneMode: 'returnCode' });
    const wrong = wrongCodeFor(phoneCode!);
    const attemptsSeen: number[] = [];
    let polling = true;
    const poll = (async () => {
      while (polling) {
        const rows = await dataSourceOf(t).query(
          db === 'postgres'
            ? 'SELECT attempts FROM phone_codes WHERE user_id = $1'
            : 'SELECT attempts FROM phone_codes WHERE user_id = ?',
          [userId],
        );
        attemptsSeen.push(Number(rows[0].attempts));
        await new Promise((resolve) => setImmediate(resolve));
      }
    })();

    const responses = await Promise.all(Array.from({ length: 30 }, () => api.verify(userId, wrong)));
    polling = false;
    await poll;

    const wrongCode = responses.filter((r) => r.body.details?.[0]?.id === 'COMMAND-eis9R');
    const exhausted = responses.filter((r) => r.body.details?.[0]?.id === 'PHONE-attempts');
    expect(wrongCode).toHaveLength(MAX_ATTEMPTS);
    expect(exhausted).toHaveLength(30 - MAX_ATTEMPTS);
    exhausted.forEach((res) => phoneErrors.exhausted(res));
    // each remaining count was reported once: 4, 3, 2, 1, 0
    const left = wrongCode.map((r) => Number(r.body.details[1].metadata.attemptsRemaining)).sort();
    expect(left).toEqual([0, 1, 2, 3, 4]);
    wrongCode.forEach((res) => phoneErrors.wrongCode(res, Number(res.body.details[1].metadata.attemptsRemaining)));

    expect(Math.max(...attemptsSeen)).toBeLessThanOrEqual(MAX_ATTEMPTS);
    expect((await phoneCodeRow(t, userId))!.attempts).toBe(MAX_ATTEMPTS);
    // the code is dead
    phoneErrors.exhausted(await api.verify(userId, phoneCode));
    // every failure is an event, sequences without gaps
    const events = await eventsOf(t, userId);
    expect(events.filter((e) => e.type === 'user.human.phone.verification.failed')).toHaveLength(31);
    expect(events.map((e) => e.sequence)).toEqual(events.map((_, i) => i + 1));
  });

  it('two parallel right codes: exactly one success', async () => {
    const { userId, phoneCode } = await createHuman(t, { phone: '+41791234567', phoneMode: 'returnCode' });
    const responses = await Promise.all([api.verify(userId, phoneCode), api.verify(userId, phoneCode)]);
    expect(responses.map((r) => r.status).sort()).toEqual([200, 400]);
    phoneErrors.noCode(responses.find((r) => r.status === 400)!);
    const events = await eventsOf(t, userId);
    expect(events.filter((e) => e.type === 'user.human.phone.verified')).toHaveLength(1);
    expect((await phoneCodeRow(t, userId))!.consumedAt).not.toBeNull();
  });

  it('ten parallel right codes mixed with wrong ones: one success, never more than the limit compared', async () => {
    const { userId, phoneCode } = await createHuman(t, { phone: '+41791234567', phoneMode: 'returnCode' });
    const calls = Array.from({ length: 20 }, (_, i) =>
      api.verify(userId, i % 2 === 0 ? phoneCode : wrongCodeFor(phoneCode!)),
    );
    const responses = await Promise.all(calls);
    expect(responses.filter((r) => r.status === 200)).toHaveLength(1);
    expect((await phoneCodeRow(t, userId))!.attempts).toBeLessThanOrEqual(MAX_ATTEMPTS);
    const events = await eventsOf(t, userId);
    expect(events.filter((e) => e.type === 'user.human.phone.verified')).toHaveLength(1);
    expect(events.map((e) => e.sequence)).toEqual(events.map((_, i) => i + 1));
  });

  it('parallel resends: one code survives and works, the others do not', async () => {
    const { userId } = await createHuman(t, { phone: '+41791234567', phoneMode: 'returnCode' });
    const responses = await Promise.all(Array.from({ length: 5 }, () => api.resend(userId, { returnCode: {} })));
    expect(responses.map((r) => r.status)).toEqual([200, 200, 200, 200, 200]);
    const bySequence = [...responses].sort((a, b) => Number(a.body.details.sequence) - Number(b.body.details.sequence));
    const codes = bySequence.map((r) => r.body.verificationCode as string);
    const last = codes.at(-1)!;
    let left = MAX_ATTEMPTS;
    for (const old of codes.slice(0, 3).filter((c) => c !== last)) {
      phoneErrors.wrongCode(await api.verify(userId, old), --left);
    }
    await api.verify(userId, last).expect(200);
  });
});

describe.each(DATABASES)('phone daily failure limit under concurrency (%s)', (db) => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startPhoneApp(db, { PHONE_CODE_MAX_ATTEMPTS: '10', PHONE_MAX_FAILED_PER_DAY: '3' });
  }, 60_000);
  afterAll(() => t?.close(), 60_000);

  it('20 parallel wrong guesses: exactly PHONE_MAX_FAILED_PER_DAY are compared, the rest are rate-limited', async () => {
    const api = phoneApi(t);
    const { userId, phoneCode } = await createHuman(t, { phone: '+41791234567', phoneMode: 'returnCode' });
    const responses = await Promise.all(Array.from({ length: 20 }, () => api.verify(userId, wrongCodeFor(phoneCode!))));
    const ids = responses.map((r) => r.body.details[0].id as string);
    expect(ids.filter((id) => id === 'COMMAND-eis9R')).toHaveLength(3);
    expect(ids.filter((id) => id === 'PHONE-ratelimit')).toHaveLength(17);
    expect((await phoneCodeRow(t, userId))!.attempts).toBe(3);
    phoneErrors.rateLimited(await api.verify(userId, phoneCode));
  });
});
