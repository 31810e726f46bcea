import { channelWorkflow } from '../../test/support/fakes/channels';
import { fraudGuard } from '../../test/support/fakes/sms-fraud';
import { spendGuard } from '../../test/support/fakes/sms-spend';
import { limitMetrics } from '../../test/support/fakes/metrics';
import { ManualClock } from '../../test/support/fakes/clock';
import { codeMac, unitConfig } from '../../test/support/fakes/config';
import { SequentialIds } from '../../test/support/fakes/ids';
import { InMemoryBackoffStore } from '../../test/support/fakes/backoff-store';
import { InMemoryLimitStore } from '../../test/support/fakes/limit-store';
import { FakePhoneCodes } from '../../test/support/fakes/phone-codes';
import { FakeOutbox } from '../../test/support/fakes/sms-outbox';
import { fakeTx } from '../../test/support/fakes/transactions';
import { aHuman, FakeUsers } from '../../test/support/fakes/users';
import type { AppConfig } from '../app.config';
import { NewEvent } from '../common/events/events.repository';
import { IdGenerator } from '../common/ids/id-generator';
import { UserEntity } from '../users/entities/user.entity';
import { CodeMac } from './code-mac';
import { OutboxCipher } from './outbox/outbox-cipher';
import { SmsCodeQueue } from './outbox/sms-code-queue';
import { SmsOutboxRepository } from './outbox/sms-outbox.repository';
import { PhoneCodeEntity } from './phone-code.entity';
import { PhoneCodeFactory } from './phone-code-factory';
import { PhoneCodeIssuer, Verification } from './phone-code-issuer';
import { PhoneCodesRepository } from './phone-codes.repository';
import { PhoneLimits } from './phone-limits';
import { ParsedPhone } from './phone-number';
import { TestNumbers } from './test-numbers';

const MOBILE: ParsedPhone = { e164: '+41791234567', country: 'CH', type: 'MOBILE' };
const PREMIUM: ParsedPhone = { e164: '+41900123456', country: 'CH', type: 'PREMIUM_RATE' };
const SEND: Verification = { kind: 'send' };
const RETURN: Verification = { kind: 'return' };
const VERIFIED: Verification = { kind: 'verified' };

describe(PhoneCodeIssuer.name, () => {
  let sut: PhoneCodeIssuer;
  let config: AppConfig;
  let codes: FakePhoneCodes;
  let outbox: FakeOutbox;
  let store: InMemoryLimitStore;
  let backoff: InMemoryBackoffStore;
  let mac: CodeMac;
  let cipher: OutboxCipher;
  let clock: ManualClock;
  let user: UserEntity;
  let events: NewEvent[];

  function build(env: Record<string, string> = {}) {
    config = unitConfig(env);
    const users = new FakeUsers();
    codes = new FakePhoneCodes(users);
    outbox = new FakeOutbox();
    store = new InMemoryLimitStore();
    backoff = new InMemoryBackoffStore();
    mac = codeMac(config);
    cipher = new OutboxCipher(config.sms.outbox, mac);
    clock = new ManualClock();
    const ids = new SequentialIds() as unknown as IdGenerator;
    sut = new PhoneCodeIssuer(
      new PhoneCodeFactory(config.codes, mac, ids),
      new SmsCodeQueue(config.sms, ids, outbox as unknown as SmsOutboxRepository, cipher, channelWorkflow(config)),
      codes as unknown as PhoneCodesRepository,
      new PhoneLimits(config.limits, store, limitMetrics(), backoff),
      new TestNumbers(config.codes, config.app),
      fraudGuard(config),
      spendGuard(config),
      config.verifier,
    );
    user = users.add(aHuman({ phone: MOBILE.e164 }));
    events = [];
  }

  /** An issue as the transaction sees it: once its writes are done; what it hands back besides them. */
  const issue = async (verification: Verification, phone = MOBILE, previous?: PhoneCodeEntity | null) => {
    const { writes, ...issued } = await sut.issue(fakeTx, {
      user,
      phone,
      verification,
      events,
      now: clock.now(),
      previous,
    });
    await writes;
    return issued;
  };
  const smsCounted = () => store.count(`sms:user:${user.id}`);

  beforeEach(() => build());

  describe('is_verified', () => {
    it('marks the number verified without a code: the pending code is removed', async () => {
      codes.add({ userId: user.id });
      await issue(VERIFIED);
      expect(codes.get(user.id)).toBeNull();
    });

    it('appends phone.verified and nothing else', async () => {
      await issue(VERIFIED);
      expect(events).toEqual([{ type: 'user.human.phone.verified' }]);
    });

    it('returns no code and queues nothing', async () => {
      expect(await issue(VERIFIED)).toEqual({ queued: false });
      expect(outbox.queued).toEqual([]);
    });

    it('applies no SMS rule: a premium-rate number may be marked verified', async () => {
      await expect(issue(VERIFIED, PREMIUM)).resolves.toEqual({ queued: false });
      expect(smsCounted()).toBe(0);
    });
  });

  describe('return_code', () => {
    it('returns the code to the caller and queues no SMS', async () => {
      const issued = await issue(RETURN);
      expect(issued).toEqual({ returned: expect.stringMatching(/^\d{6}$/), queued: false });
      expect(outbox.queued).toEqual([]);
    });

    it('stores only the MAC of the code, bound to the user and the number, under the current key', async () => {
      const { returned } = await issue(RETURN);
      const row = codes.get(user.id)!;
      expect(JSON.stringify(row)).not.toContain(returned);
      expect(row.keyId).toBe('k1');
      expect(mac.matches(row.mac, row.keyId, user.id, MOBILE.e164, returned!)).toBe(true);
    });

    it('appends code.added with the expiry and codeReturned', async () => {
      await issue(RETURN);
      expect(events).toEqual([
        {
          type: 'user.human.phone.code.added',
          payload: { expiry: new Date(clock.now().getTime() + 600_000).toISOString(), codeReturned: true },
        },
      ]);
    });

    it('counts no SMS and applies no SMS rule (no cooldown, no premium-rate refusal)', async () => {
      await issue(RETURN, PREMIUM, codes.add({ userId: user.id, smsQueuedAt: clock.now() }));
      expect(smsCounted()).toBe(0);
    });

    it('records no SMS time, so a later send is not held by a cooldown', async () => {
      await issue(RETURN);
      expect(codes.get(user.id)?.smsQueuedAt).toBeNull();
    });
  });

  describe('send_code', () => {
    it('queues an SMS and returns no code', async () => {
      expect(await issue(SEND)).toEqual({ queued: true, channel: 'sms' });
      expect(outbox.queued).toHaveLength(1);
    });

    it('queues the message for the user’s number and the code just stored', async () => {
      await issue(SEND);
      const [row] = outbox.queued;
      expect(row).toMatchObject({
        codeId: codes.get(user.id)!.id,
        userId: user.id,
        orgId: user.orgId,
        recipient: MOBILE.e164,
        status: 'pending',
        attempts: 0,
        nextAttemptAt: clock.now(),
      });
    });

    it('seals the code in the outbox, bound to the outbox row', async () => {
      await issue(SEND);
      const [row] = outbox.queued;
      const code = cipher.open(row.id, row.sealedCode!);
      expect(code).toMatch(/^\d{6}$/);
      expect(row.sealedCode).not.toContain(code);
      expect(() => cipher.open('another-row', row.sealedCode!)).toThrow();
    });

    it('gives up delivery SMS_MAX_AGE after queueing', async () => {
      build({ SMS_MAX_AGE: '5m' });
      await issue(SEND);
      expect(outbox.queued[0].giveUpAt).toEqual(new Date(clock.now().getTime() + 300_000));
    });

    it('gives up delivery when the code expires, if that comes before SMS_MAX_AGE', async () => {
      build({ SMS_MAX_AGE: '1h', PHONE_CODE_TTL: '10m' });
      await issue(SEND);
      expect(outbox.queued[0].giveUpAt).toEqual(new Date(clock.now().getTime() + 600_000));
    });

    it('records when the SMS was queued (the cooldown counts from here)', async () => {
      await issue(SEND);
      expect(codes.get(user.id)?.smsQueuedAt).toEqual(clock.now());
    });

    it('appends code.added with codeReturned false', async () => {
      await issue(SEND);
      expect(events).toEqual([
        { type: 'user.human.phone.code.added', payload: { expiry: expect.any(String), codeReturned: false } },
      ]);
    });

    it('counts the send towards the limits', async () => {
      await issue(SEND);
      expect(smsCounted()).toBe(1);
      expect(store.count(`sms:number:${MOBILE.e164}`)).toBe(1);
    });

    it('refuses a premium-rate number before storing anything', async () => {
      await expect(issue(SEND, PREMIUM)).rejects.toMatchObject({ id: 'PHONE-n0sms' });
      expect([codes.get(user.id), outbox.queued, events]).toEqual([null, [], []]);
    });

    it('refuses a resend within the cooldown of the code it replaces, keeping that code', async () => {
      const previous = codes.add({ userId: user.id, smsQueuedAt: clock.now() });
      clock.advance(30_000);
      await expect(issue(SEND, MOBILE, previous)).rejects.toMatchObject({ id: 'PHONE-ratelimit' });
      expect(codes.get(user.id)).toEqual(previous);
      expect(outbox.queued).toEqual([]);
    });

    it('sends again once the cooldown of the replaced code has passed', async () => {
      const previous = codes.add({ userId: user.id, smsQueuedAt: clock.now() });
      clock.advance(60_000);
      await expect(issue(SEND, MOBILE, previous)).resolves.toEqual({ queued: true, channel: 'sms' });
    });

    it('refuses a send to a country outside SMS_ALLOWED_COUNTRIES', async () => {
      build({ SMS_ALLOWED_COUNTRIES: 'DE' });
      await expect(issue(SEND)).rejects.toMatchObject({ id: 'PHONE-n0sms' });
    });
  });

  describe('a test number (SMS_TEST_NUMBERS)', () => {
    const TEST_ENV = { SMS_TEST_NUMBERS: '+41790000001=123456; +41790000*=654321' };
    const TEST: ParsedPhone = { e164: '+41790000001', country: 'CH', type: 'MOBILE' };
    const IN_RANGE: ParsedPhone = { e164: '+41790000777', country: 'CH', type: 'MOBILE' };
    beforeEach(() => build(TEST_ENV));

    it('is never queued, and its code is the fixed one, stored as a MAC like any other', async () => {
      expect(await issue(SEND, TEST)).toEqual({ queued: false });
      expect(outbox.queued).toEqual([]);
      const row = codes.get(user.id)!;
      expect(JSON.stringify(row)).not.toContain('123456');
      expect(mac.matches(row.mac, row.keyId, user.id, TEST.e164, '123456')).toBe(true);
      expect(row).toMatchObject({ attempts: 0, consumedAt: null, smsQueuedAt: null, phone: TEST.e164 });
    });

    it('matches a prefix with *, the exact entry first', async () => {
      await issue(SEND, IN_RANGE);
      expect(mac.matches(codes.get(user.id)!.mac, 'k1', user.id, IN_RANGE.e164, '654321')).toBe(true);
      await issue(SEND, TEST);
      expect(mac.matches(codes.get(user.id)!.mac, 'k1', user.id, TEST.e164, '123456')).toBe(true);
    });

    it('returns the fixed code for return_code, as any code is returned', async () => {
      expect(await issue(RETURN, TEST)).toEqual({ returned: '123456', queued: false });
    });

    it('appends code.added and code.test_number', async () => {
      await issue(SEND, TEST);
      await issue(RETURN, TEST);
      const expiry = new Date(clock.now().getTime() + 600_000).toISOString();
      expect(events).toEqual([
        { type: 'user.human.phone.code.added', payload: { expiry, codeReturned: false } },
        { type: 'user.human.phone.code.test_number', payload: { delivery: 'send_code' } },
        { type: 'user.human.phone.code.added', payload: { expiry, codeReturned: true } },
        { type: 'user.human.phone.code.test_number', payload: { delivery: 'return_code' } },
      ]);
    });

    it('is exempt from every send limit: cooldown, per-user and per-number counts, back-off', async () => {
      build({ ...TEST_ENV, SMS_MAX_PER_USER_PER_HOUR: '1', SMS_MAX_PER_NUMBER_PER_DAY: '1' });
      for (let i = 0; i < 20; i++) await issue(SEND, TEST, codes.get(user.id));
      expect(store.hits.size).toBe(0);
      expect(backoff.records.size).toBe(0);
      expect(outbox.queued).toEqual([]);
    });

    it('is exempt from the SMS destination rules too (a number the list names is the operator’s choice)', async () => {
      build({ ...TEST_ENV, SMS_ALLOWED_COUNTRIES: 'DE' });
      await expect(issue(SEND, TEST)).resolves.toEqual({ queued: false });
    });

    it('leaves other numbers to the usual path', async () => {
      expect(await issue(SEND, MOBILE)).toEqual({ queued: true, channel: 'sms' });
      expect(outbox.queued).toHaveLength(1);
    });

    it('leaves is_verified as it is', async () => {
      await issue(VERIFIED, TEST);
      expect(events).toEqual([{ type: 'user.human.phone.verified' }]);
    });
  });

  describe('every new code', () => {
    it('replaces the pending one, with a new id and no attempts used', async () => {
      const old = codes.add({ userId: user.id, attempts: 4 });
      await issue(RETURN, MOBILE, old);
      const row = codes.get(user.id)!;
      expect(row.id).not.toBe(old.id);
      expect(row).toMatchObject({ attempts: 0, consumedAt: null, phone: MOBILE.e164 });
    });

    it('expires PHONE_CODE_TTL after it was issued', async () => {
      build({ PHONE_CODE_TTL: '2m' });
      await issue(RETURN);
      expect(codes.get(user.id)?.expiresAt).toEqual(new Date(clock.now().getTime() + 120_000));
    });

    it('has PHONE_CODE_LENGTH characters of PHONE_CODE_ALPHABET', async () => {
      build({ PHONE_CODE_LENGTH: '10', PHONE_CODE_ALPHABET: 'alphanumeric' });
      expect((await issue(RETURN)).returned).toMatch(/^[A-Z0-9]{10}$/);
    });

    it('differs from the one before', async () => {
      build({ PHONE_CODE_LENGTH: '20' });
      const first = await issue(RETURN);
      const second = await issue(RETURN);
      expect(second.returned).not.toBe(first.returned);
    });
  });
});
