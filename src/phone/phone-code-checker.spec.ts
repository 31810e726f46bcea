import { fraudGuard } from '../../test/support/fakes/sms-fraud';
import { limitMetrics } from '../../test/support/fakes/metrics';
import { ManualClock } from '../../test/support/fakes/clock';
import { codeMac, unitConfig } from '../../test/support/fakes/config';
import { InMemoryBackoffStore } from '../../test/support/fakes/backoff-store';
import { InMemoryLimitStore } from '../../test/support/fakes/limit-store';
import { FakePhoneCodes } from '../../test/support/fakes/phone-codes';
import { fakeTx } from '../../test/support/fakes/transactions';
import { aHuman, FakeUsers } from '../../test/support/fakes/users';
import type { AppConfig } from '../app.config';
import { UserEntity } from '../users/entities/user.entity';
import { CodeMac } from './code-mac';
import { CheckOutcome, CheckRefusal, PhoneCodeChecker } from './phone-code-checker';
import { PhoneCodeEntity } from './phone-code.entity';
import { PhoneCodesRepository } from './phone-codes.repository';
import { PhoneLimits } from './phone-limits';

const CODE = '482913';
const TTL = 600_000;

async function refusal(outcome: Promise<CheckOutcome>): Promise<CheckRefusal> {
  const checked = await outcome;
  if (checked.ok) throw new Error('expected the check to be refused');
  return checked.error;
}

describe(PhoneCodeChecker.name, () => {
  let sut: PhoneCodeChecker;
  let config: AppConfig;
  let codes: FakePhoneCodes;
  let store: InMemoryLimitStore;
  let mac: CodeMac;
  let clock: ManualClock;
  let user: UserEntity;

  function build(env: Record<string, string> = {}) {
    config = unitConfig(env);
    const users = new FakeUsers();
    codes = new FakePhoneCodes(users);
    store = new InMemoryLimitStore();
    mac = codeMac(config);
    clock = new ManualClock();
    sut = new PhoneCodeChecker(
      config.codes,
      codes as unknown as PhoneCodesRepository,
      mac,
      new PhoneLimits(config.limits, store, limitMetrics(), new InMemoryBackoffStore()),
      fraudGuard(config),
    );
    user = users.add(aHuman());
  }

  /** The code the issuer would have stored for the user's number. */
  function pending(code = CODE, overrides: Partial<PhoneCodeEntity> = {}): PhoneCodeEntity {
    return codes.add({
      userId: user.id,
      phone: user.phone!,
      mac: mac.sign(user.id, user.phone!, code),
      keyId: mac.currentKeyId,
      createdAt: clock.now(),
      expiresAt: new Date(clock.now().getTime() + TTL),
      ...overrides,
    });
  }

  /** A check as VerifyPhone makes it: the user and the code loaded just before. */
  /** A check as its transaction runs it: the outcome once its closing writes are done too. */
  const check = async (input: string, loaded: PhoneCodeEntity | null = codes.get(user.id)) => {
    const outcome = await sut.check(fakeTx, { user, pending: loaded, input, now: clock.now() });
    await (outcome.ok ? outcome.value.writes : outcome.error.writes);
    return outcome;
  };

  const recordFailures = async (n: number) => {
    const limits = new PhoneLimits(config.limits, store, limitMetrics(), new InMemoryBackoffStore());
    for (let i = 0; i < n; i++) await limits.recordFailedCheck(fakeTx, user.id, clock.now());
  };

  beforeEach(() => build());

  describe('no code pending', () => {
    it('refuses with "Code not found" when the user has no pending code', async () => {
      const refused = await refusal(check(CODE, null));
      expect(refused).toMatchObject({ reason: 'no_code_pending', counts: false });
      expect(refused.error).toMatchObject({ code: 9, id: 'COMMAND-2M9fs' });
    });

    it('refuses when the user has no number any more', async () => {
      const code = pending();
      user.phone = null;
      expect(await refusal(check(CODE, code))).toMatchObject({ reason: 'no_code_pending' });
    });

    it('refuses when the number is verified already', async () => {
      const code = pending();
      user.phoneVerified = true;
      expect(await refusal(check(CODE, code))).toMatchObject({ reason: 'no_code_pending' });
    });

    it('does not count a code issued for another number, even the right one', async () => {
      pending(CODE, { phone: '+41780000000', mac: mac.sign(user.id, '+41780000000', CODE) });
      expect(await refusal(check(CODE))).toMatchObject({ reason: 'no_code_pending' });
      // the claim, issued with the load, matched nothing: its condition names the user's number
      expect(codes.get(user.id)).toMatchObject({ attempts: 0 });
    });

    it('refuses a code that is consumed already', async () => {
      pending(CODE, { consumedAt: clock.now() });
      expect(await refusal(check(CODE))).toMatchObject({ reason: 'no_code_pending' });
    });

    it('claims no attempt when nothing is pending', async () => {
      await refusal(check(CODE, null));
      expect(codes.writes.filter((w) => w !== 'claim attempt')).toEqual([]);
      expect(codes.rows.size).toBe(0);
    });
  });

  describe('the daily failure limit', () => {
    it('is checked before anything else about the code: an expired code is refused as rate-limited', async () => {
      pending(CODE, { expiresAt: clock.now() });
      await recordFailures(config.limits.maxFailedPerDay);
      expect(await refusal(check(CODE))).toMatchObject({ reason: 'failed_checks_per_day' });
    });

    it('refuses even the right code, claiming no attempt and consuming nothing', async () => {
      pending();
      await recordFailures(config.limits.maxFailedPerDay);
      const refused = await refusal(check(CODE));
      expect(refused.error).toMatchObject({ code: 8, id: 'PHONE-ratelimit' });
      // the attempt claimed with the load is handed back in the same transaction
      expect(codes.writes).toEqual(['claim attempt', 'release attempt']);
      expect(codes.get(user.id)).toMatchObject({ attempts: 0, consumedAt: null });
    });

    it('gives a refusal that does not count towards the limit again', async () => {
      pending();
      await recordFailures(config.limits.maxFailedPerDay);
      expect(await refusal(check(CODE))).toMatchObject({ counts: false });
    });

    it('tells when to retry: when the oldest counted failure leaves the 24 h window', async () => {
      pending();
      await recordFailures(config.limits.maxFailedPerDay);
      clock.advance(3_600_000);
      const refused = await refusal(check(CODE));
      expect(refused.error.extras.retryAfterMs).toBe(23 * 3_600_000);
    });

    it('allows the check again once the window has passed', async () => {
      pending();
      await recordFailures(config.limits.maxFailedPerDay);
      clock.advance(86_400_000);
      pending();
      expect((await check(CODE)).ok).toBe(true);
    });

    it('allows a check one failure below the limit', async () => {
      pending();
      await recordFailures(config.limits.maxFailedPerDay - 1);
      expect((await check(CODE)).ok).toBe(true);
    });

    it('counts a failure with the writes of a refusal that counts, and none for the right code', async () => {
      const failures = () => store.count(`verify:failed:${user.id}`);
      pending();
      await refusal(check('000000'));
      expect(failures()).toBe(1);
      pending(CODE, { expiresAt: clock.now() });
      await refusal(check(CODE));
      expect(failures()).toBe(2);
      pending();
      expect((await check(CODE)).ok).toBe(true);
      expect(failures()).toBe(2);
    });

    it('throws, claiming nothing, when the limit store cannot answer (the check fails closed)', async () => {
      pending();
      const down = new Error('Connection is closed.');
      store.failWith = down;
      await expect(check(CODE)).rejects.toBe(down);
      // the claim issued with the load is undone by the transaction's rollback; nothing was compared
      expect(codes.writes).toEqual(['claim attempt']);
    });
  });

  describe('expiry', () => {
    it('refuses a code at its expiry instant', async () => {
      pending(CODE, { expiresAt: clock.now() });
      const refused = await refusal(check(CODE));
      expect(refused).toMatchObject({ reason: 'expired', counts: true });
      expect(refused.error).toMatchObject({ code: 3, id: 'CODE-QvUQ4P' });
    });

    it('accepts the right code a millisecond before expiry', async () => {
      pending(CODE, { expiresAt: new Date(clock.now().getTime() + 1) });
      expect((await check(CODE)).ok).toBe(true);
    });

    it('claims no attempt for an expired code', async () => {
      pending(CODE, { expiresAt: clock.now() });
      await refusal(check(CODE));
      expect(codes.get(user.id)?.attempts).toBe(0);
    });
  });

  describe('attempts', () => {
    it('claims the attempt before comparing: the right code uses one too, then consumes the code', async () => {
      pending();
      await check(CODE);
      expect(codes.writes).toEqual(['claim attempt', 'consume']);
      expect(codes.get(user.id)?.attempts).toBe(1);
    });

    it('counts a wrong code and tells how many attempts are left', async () => {
      pending();
      const refused = await refusal(check('000000'));
      expect(refused).toMatchObject({
        reason: 'wrong_code',
        counts: true,
        payload: { attemptsRemaining: config.codes.maxAttempts - 1, codeDead: false },
      });
      expect(refused.error).toMatchObject({ code: 3, id: 'COMMAND-eis9R', text: 'Code is invalid, 4 attempts left' });
    });

    it('says the code is dead on the last wrong attempt', async () => {
      pending(CODE, { attempts: config.codes.maxAttempts - 1 });
      expect(await refusal(check('000000'))).toMatchObject({
        reason: 'wrong_code',
        payload: { attemptsRemaining: 0, codeDead: true },
      });
    });

    it('refuses even the right code once the attempts are used up', async () => {
      pending(CODE, { attempts: config.codes.maxAttempts });
      const refused = await refusal(check(CODE));
      expect(refused).toMatchObject({ reason: 'attempts_exhausted', counts: true });
      expect(refused.error).toMatchObject({ code: 8, id: 'PHONE-attempts' });
      expect(codes.get(user.id)?.consumedAt).toBeNull();
    });

    it('follows PHONE_CODE_MAX_ATTEMPTS', async () => {
      build({ PHONE_CODE_MAX_ATTEMPTS: '2' });
      pending();
      await refusal(check('000000'));
      await refusal(check('000000'));
      expect(await refusal(check(CODE))).toMatchObject({ reason: 'attempts_exhausted' });
    });

    it('never lets more guesses than the limit through when they arrive together', async () => {
      pending();
      const loaded = codes.get(user.id);
      const outcomes = await Promise.all(Array.from({ length: 12 }, () => check('000000', loaded)));
      const reasons = outcomes.map((o) => (o.ok ? 'ok' : o.error.reason));
      expect(reasons.filter((r) => r === 'wrong_code')).toHaveLength(config.codes.maxAttempts);
      expect(reasons.filter((r) => r === 'attempts_exhausted')).toHaveLength(12 - config.codes.maxAttempts);
    });
  });

  describe('the right code', () => {
    it('passes', async () => {
      pending();
      expect((await check(CODE)).ok).toBe(true);
    });

    it('consumes the code at the time of the check', async () => {
      pending();
      await check(CODE);
      expect(codes.get(user.id)?.consumedAt).toEqual(clock.now());
    });

    it('cannot be used twice', async () => {
      pending();
      await check(CODE);
      expect(await refusal(check(CODE))).toMatchObject({ reason: 'no_code_pending' });
    });

    it('cannot be used twice by a check that loaded the code before the first one consumed it', async () => {
      const loaded = pending();
      await check(CODE, loaded);
      const second = await check(CODE, loaded);
      expect(second.ok).toBe(false);
    });

    it('passes exactly once when two checks of it arrive together', async () => {
      const loaded = pending();
      // the second one's consumption fails (its transaction rolls back) where the row lock did not order them
      const outcomes = await Promise.allSettled([check(CODE, loaded), check(CODE, loaded)]);
      expect(outcomes.filter((o) => o.status === 'fulfilled' && o.value.ok)).toHaveLength(1);
    });

    it('fails as a whole (its transaction rolls back) when another check consumed it between the claim and the consumption', async () => {
      const loaded = pending();
      const consume = codes.consume.bind(codes);
      jest.spyOn(codes, 'consume').mockImplementationOnce(async (tx, id, at) => {
        await consume(tx, id, at); // the other check
        return consume(tx, id, at);
      });
      await expect(check(CODE, loaded)).rejects.toThrow(/consumed already/);
    });
  });

  describe('what is compared', () => {
    it('ignores white space around a digit code', async () => {
      pending();
      expect((await check(` ${CODE}\t`)).ok).toBe(true);
    });

    it('compares an alphanumeric code in upper case', async () => {
      build({ PHONE_CODE_ALPHABET: 'alphanumeric' });
      pending('K7Q2ZD');
      expect((await check(' k7q2zd ')).ok).toBe(true);
    });

    it('verifies a code signed under an older key that is still configured', async () => {
      pending(CODE, { keyId: 'k0', mac: mac.sign(user.id, user.phone!, CODE, 'k0') });
      expect((await check(CODE)).ok).toBe(true);
    });

    it('refuses a code whose key is no longer configured, as a wrong code', async () => {
      pending(CODE, { keyId: 'gone' });
      expect(await refusal(check(CODE))).toMatchObject({ reason: 'wrong_code' });
    });

    it('refuses a code issued to another user', async () => {
      pending(CODE, { mac: mac.sign('another-user', user.phone!, CODE) });
      expect(await refusal(check(CODE))).toMatchObject({ reason: 'wrong_code' });
    });
  });
});
