import { InMemorySmsFraudStore } from '../../test/support/fakes/sms-fraud';
import { ManualClock } from '../../test/support/fakes/clock';
import { unitConfig } from '../../test/support/fakes/config';
import { FakeEvents } from '../../test/support/fakes/events';
import { InMemoryLimitStore } from '../../test/support/fakes/limit-store';
import { FakePhoneCodes } from '../../test/support/fakes/phone-codes';
import { phoneCallers, phoneUseCases } from '../../test/support/fakes/phone-use-cases';
import { FakeOutbox, FakeOutboxWorker } from '../../test/support/fakes/sms-outbox';
import { FakeTransactions, fakeTx } from '../../test/support/fakes/transactions';
import { aHuman, FakeUsers } from '../../test/support/fakes/users';
import { INSTANCE } from '../common/auth/caller';
import { CallerRef } from '../common/auth/caller-ref';
import { UserEntity } from '../users/entities/user.entity';
import { CodeMac } from './code-mac';
import { OutboxCipher } from './outbox/outbox-cipher';
import { PhoneVerificationService } from './phone-verification.service';

const ORG = '200000000000000001';
const OTHER_ORG = '200000000000000002';
const NUMBER = '+41791234567';
const CODE = '482913';

const PERMISSION_DENIED = { code: 7, id: 'AUTH-AWfge' };

describe(PhoneVerificationService.name, () => {
  let sut: PhoneVerificationService;
  let tx: FakeTransactions;
  let users: FakeUsers;
  let codes: FakePhoneCodes;
  let events: FakeEvents;
  let store: InMemoryLimitStore;
  let outbox: FakeOutbox;
  let worker: FakeOutboxWorker;
  let mac: CodeMac;
  let clock: ManualClock;
  let user: UserEntity;

  const { self, granted, manager, unknownToken } = phoneCallers(() => user, ORG);

  let fraud: InMemorySmsFraudStore;

  function build(env: Record<string, string> = {}) {
    ({ fraud, tx, users, codes, events, store, outbox, worker, mac, clock, service: sut } = phoneUseCases(env));
    user = users.add(aHuman({ orgId: ORG, phone: NUMBER }));
  }
  beforeEach(() => build());

  /** The code the user was sent for its number. */
  const pending = () =>
    codes.add({
      userId: user.id,
      phone: NUMBER,
      mac: mac.sign(user.id, NUMBER, CODE),
      keyId: mac.currentKeyId,
      expiresAt: new Date(clock.now().getTime() + 600_000),
    });

  describe('setPhone', () => {
    it('refuses an unknown token: nothing changed, nothing queued, nothing committed', async () => {
      await expect(sut.setPhone(unknownToken(), user.id, '+41797654321', { kind: 'send' })).rejects.toMatchObject({
        code: 16,
      });
      expect([users.get(user.id)?.phone, outbox.queued, worker.kicks, tx.ends]).toEqual([
        user.phone,
        [],
        0,
        ['rolled back'],
      ]);
    });

    it('lets a user set its own number with send_code', async () => {
      await sut.setPhone(self(), user.id, '+41 79 765 43 21', { kind: 'send' });
      expect(users.get(user.id)).toMatchObject({ phone: '+41797654321', phoneVerified: false });
    });

    it('never returns a user its own code, even with user.write on its organization', async () => {
      const caller = self([{ scope: ORG, role: 'ORG_OWNER' }]);
      await expect(sut.setPhone(caller, user.id, '+41797654321', { kind: 'return' })).rejects.toMatchObject(
        PERMISSION_DENIED,
      );
    });

    it('never lets a user mark its own number verified, even with user.write on its organization', async () => {
      const caller = self([{ scope: ORG, role: 'ORG_OWNER' }]);
      await expect(sut.setPhone(caller, user.id, '+41797654321', { kind: 'verified' })).rejects.toMatchObject(
        PERMISSION_DENIED,
      );
    });

    it('refuses send_code on another user without user.write on its organization', async () => {
      await expect(
        sut.setPhone(granted('ORG_OWNER_VIEWER'), user.id, '+41797654321', { kind: 'send' }),
      ).rejects.toMatchObject(PERMISSION_DENIED);
    });

    it('answers a manager of another organization as for a missing user (it may not read this one)', async () => {
      await expect(
        sut.setPhone(granted('ORG_USER_MANAGER', OTHER_ORG), user.id, '+41797654321', { kind: 'return' }),
      ).rejects.toMatchObject({ code: 5, id: 'COMMAND-ieJ2e' });
    });

    it('lets an instance-wide role act on any organization', async () => {
      const result = await sut.setPhone(
        CallerRef.of({ userId: '900000000000000001', orgId: ORG, grants: [{ scope: INSTANCE, role: 'IAM_OWNER' }] }),
        user.id,
        '+41797654321',
        { kind: 'return' },
      );
      expect(result.verificationCode).toMatch(/^\d{6}$/);
    });

    it('returns the code to a caller with user.write', async () => {
      const result = await sut.setPhone(manager(), user.id, '+41797654321', { kind: 'return' });
      expect(codes.get(user.id)?.mac).toBe(mac.sign(user.id, '+41797654321', result.verificationCode!));
    });

    it('marks the number verified for a caller with user.write', async () => {
      await sut.setPhone(manager(), user.id, '+41797654321', { kind: 'verified' });
      expect(users.get(user.id)).toMatchObject({ phone: '+41797654321', phoneVerified: true });
    });

    it('refuses the number the user has already', async () => {
      await expect(sut.setPhone(manager(), user.id, '+41 79 123 45 67', { kind: 'send' })).rejects.toMatchObject({
        id: 'COMMAND-Uch5e',
      });
    });

    it('refuses a number that is not valid', async () => {
      await expect(sut.setPhone(manager(), user.id, '+41 12', { kind: 'send' })).rejects.toMatchObject({
        id: 'PHONE-so0wa',
      });
    });

    it('answers "Phone not found" for a machine user', async () => {
      const machine = users.add(aHuman({ type: 'machine', orgId: ORG }));
      await expect(sut.setPhone(manager(), machine.id, '+41797654321', { kind: 'send' })).rejects.toMatchObject({
        code: 5,
        id: 'COMMAND-ieJ2e',
      });
    });

    it('answers "Phone not found" for an unknown user, before any permission check', async () => {
      await expect(sut.setPhone(self(), 'no-such-user', '+41797654321', { kind: 'verified' })).rejects.toMatchObject({
        id: 'COMMAND-ieJ2e',
      });
    });

    it('appends phone.changed and code.added and reports the last sequence', async () => {
      const result = await sut.setPhone(manager(), user.id, '+41797654321', { kind: 'return' });
      expect(events.typesOf(user.id)).toEqual(['user.human.phone.changed', 'user.human.phone.code.added']);
      expect(result.details).toMatchObject({
        sequence: user.sequence + 2,
        changeDate: clock.now(),
        resourceOwner: ORG,
      });
    });

    it('wakes the outbox worker once when an SMS was queued', async () => {
      await sut.setPhone(self(), user.id, '+41797654321', { kind: 'send' });
      expect([outbox.queued.length, worker.kicks]).toEqual([1, 1]);
    });

    it.each(['return', 'verified'] as const)('does not wake the outbox worker for %s', async (kind) => {
      await sut.setPhone(manager(), user.id, '+41797654321', { kind });
      expect(worker.kicks).toBe(0);
    });

    it('does not wake the outbox worker when the transaction fails after queueing', async () => {
      jest.spyOn(events, 'append').mockRejectedValueOnce(new Error('disk full'));
      await expect(sut.setPhone(self(), user.id, '+41797654321', { kind: 'send' })).rejects.toThrow('disk full');
      expect([tx.ends, worker.kicks]).toEqual([['rolled back'], 0]);
    });
  });

  describe('resendCode', () => {
    it('refuses when no code is pending', async () => {
      await expect(sut.resendCode(self(), user.id, { kind: 'send' })).rejects.toMatchObject({ id: 'PHONE-5xrra88eq8' });
    });

    it('refuses when the pending code was used', async () => {
      codes.add({ userId: user.id, consumedAt: clock.now() });
      await expect(sut.resendCode(self(), user.id, { kind: 'send' })).rejects.toMatchObject({ id: 'PHONE-5xrra88eq8' });
    });

    it('sends a new code to the user’s number and wakes the worker', async () => {
      const old = pending();
      await sut.resendCode(self(), user.id, { kind: 'send' });
      expect(codes.get(user.id)?.id).not.toBe(old.id);
      expect([outbox.queued[0].recipient, worker.kicks]).toEqual([NUMBER, 1]);
    });

    it('never returns a user its own new code', async () => {
      pending();
      await expect(sut.resendCode(self(), user.id, { kind: 'return' })).rejects.toMatchObject(PERMISSION_DENIED);
    });

    it('returns the new code to a caller with user.write, without waking the worker', async () => {
      pending();
      const result = await sut.resendCode(manager(), user.id, { kind: 'return' });
      expect([typeof result.verificationCode, worker.kicks]).toEqual(['string', 0]);
    });

    it('appends code.added only', async () => {
      pending();
      await sut.resendCode(manager(), user.id, { kind: 'return' });
      expect(events.typesOf(user.id)).toEqual(['user.human.phone.code.added']);
    });
  });

  describe('removePhone', () => {
    it('removes the number and the pending code', async () => {
      pending();
      await sut.removePhone(self(), user.id);
      expect([users.get(user.id)?.phone, codes.get(user.id)]).toEqual([null, null]);
    });

    it('appends phone.removed', async () => {
      await sut.removePhone(self(), user.id);
      expect(events.typesOf(user.id)).toEqual(['user.human.phone.removed']);
    });

    it('refuses when there is no number', async () => {
      await users.update(fakeTx, user.id, { phone: null });
      await expect(sut.removePhone(self(), user.id)).rejects.toMatchObject({ code: 9, id: 'COMMAND-ieJ2e' });
    });

    it('refuses another user without user.write', async () => {
      await expect(sut.removePhone(granted('ORG_OWNER_VIEWER'), user.id)).rejects.toMatchObject(PERMISSION_DENIED);
    });
  });

  describe('forNewUser', () => {
    const newUser = () => aHuman({ orgId: ORG, phone: null });

    it('contributes nothing without a number', async () => {
      expect(
        await sut.forNewUser(fakeTx, {
          user: newUser(),
          phone: undefined,
          verification: { kind: 'send' },
          now: clock.now(),
        }),
      ).toEqual({
        phone: null,
        phoneVerified: false,
        events: [],
      });
    });

    it('wakes the worker after commit only when an SMS was queued', async () => {
      const sent = await sut.forNewUser(fakeTx, {
        user: newUser(),
        phone: NUMBER,
        verification: { kind: 'send' },
        now: clock.now(),
      });
      expect(worker.kicks).toBe(0);
      sent.afterCommit?.();
      expect(worker.kicks).toBe(1);
    });

    it('does not wake the worker after commit for a returned code', async () => {
      const returned = await sut.forNewUser(fakeTx, {
        user: newUser(),
        phone: NUMBER,
        verification: { kind: 'return' },
        now: clock.now(),
      });
      expect(typeof returned.code).toBe('string');
      returned.afterCommit?.();
      expect(worker.kicks).toBe(0);
    });

    it('gives the number in E.164 with the events of a changed number', async () => {
      const result = await sut.forNewUser(fakeTx, {
        user: newUser(),
        phone: '+41 79 123 45 67',
        verification: { kind: 'verified' },
        now: clock.now(),
      });
      expect([result.phone, result.phoneVerified, result.events.map((e) => e.type)]).toEqual([
        NUMBER,
        true,
        ['user.human.phone.changed', 'user.human.phone.verified'],
      ]);
    });
  });

  describe('pumping guard (SMS_FRAUD_MODE=enforce)', () => {
    const PUMP = { SMS_FRAUD_MODE: 'enforce', SMS_FRAUD_COUNTRY_HOURLY_FLOOR: '1', SMS_FRAUD_COUNTRY_FLOOR: '1' };
    const origin = { clientAddress: '198.51.100.23' };

    beforeEach(() => {
      build(PUMP);
      // two unverified sends to CH this hour: above the floor of 1
      fraud.seed('c:CH', clock.now(), 2);
    });

    it('commits only the block event, changes nothing, queues nothing, then answers the error', async () => {
      await expect(sut.setPhone(manager(), user.id, '+41797654321', { kind: 'send' }, origin)).rejects.toMatchObject({
        id: 'PHONE-pump1ng',
      });
      expect(tx.ends).toEqual(['committed']);
      expect(events.appended.map((e) => [e.type, e.payload])).toEqual([
        ['user.human.phone.code.send.blocked', { rule: 'country_hourly', country: 'CH', prefix: '+4179765' }],
      ]);
      expect(users.get(user.id)).toMatchObject({ phone: NUMBER });
      expect(outbox.queued).toEqual([]);
      expect(worker.kicks).toBe(0);
      expect(store.count(`sms:user:${user.id}`)).toBe(0);
    });

    it('blocks a resend the same way', async () => {
      pending();
      await expect(sut.resendCode(manager(), user.id, { kind: 'send' }, origin)).rejects.toMatchObject({
        id: 'PHONE-pump1ng',
      });
      expect(tx.ends).toEqual(['committed']);
      expect(events.typesOf(user.id)).toEqual(['user.human.phone.code.send.blocked']);
    });

    it('refuses a new user as a whole (there is no user yet to record the block on)', async () => {
      const created = aHuman({ orgId: ORG, phone: null });
      await expect(
        sut.forNewUser(fakeTx, {
          user: created,
          phone: '+41797654321',
          verification: { kind: 'send' },
          now: clock.now(),
          origin,
        }),
      ).rejects.toMatchObject({ id: 'PHONE-pump1ng' });
      expect(outbox.queued).toEqual([]);
    });

    it('never judges a returned code', async () => {
      const result = await sut.setPhone(manager(), user.id, '+41797654321', { kind: 'return' }, origin);
      expect(result.verificationCode).toBeDefined();
    });

    it("counts a successful verification in the send's buckets, with the check's closing writes", async () => {
      build({ SMS_FRAUD_MODE: 'record' });
      await sut.setPhone(manager(), user.id, '+41797654321', { kind: 'send' }, origin);
      const code = codes.get(user.id)!;
      expect(code).toMatchObject({ sentFrom: '198.51.100.23', sentCountry: 'CH' });
      const sent = outbox.queued[0];
      const plain = new OutboxCipher(unitConfig().sms.outbox, mac).open(sent.id, sent.sealedCode!);
      await sut.verifyPhone(manager(), user.id, plain);
      expect(fraud.total('p:+4179765')).toEqual({ sent: 1, verified: 1 });
      expect(fraud.total('a:198.51.100.23')).toEqual({ sent: 1, verified: 1 });
      expect(fraud.verifiedNumbers.size).toBe(1);
    });
  });
});
