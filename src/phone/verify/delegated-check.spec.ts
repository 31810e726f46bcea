import { FakeEvents } from '../../../test/support/fakes/events';
import { InMemoryLimitStore } from '../../../test/support/fakes/limit-store';
import { ManualClock } from '../../../test/support/fakes/clock';
import { FakePhoneCodes } from '../../../test/support/fakes/phone-codes';
import { phoneCallers, phoneUseCases } from '../../../test/support/fakes/phone-use-cases';
import { FakeTransactions } from '../../../test/support/fakes/transactions';
import { aHuman, FakeUsers } from '../../../test/support/fakes/users';
import { UserEntity } from '../../users/entities/user.entity';
import { CodeMac } from '../code-mac';
import { PhoneVerifier } from '../phone-verifier';
import { DelegatedVerifier, VerifierAnswer, VerifierUnavailable } from './delegated-verifier';

const ORG = '200000000000000001';
const NUMBER = '+41791234567';
const SID = `VE${'a'.repeat(32)}`;
const FAILURES = (userId: string) => `verify:failed:${userId}`;

/** A provider whose answer the spec scripts; `during` runs while it is asked (between the two transactions). */
class ScriptedVerifier extends DelegatedVerifier {
  readonly name = 'twilio-verify';
  readonly asked: Array<{ to: string; verificationId: string; code: string }> = [];
  answer: VerifierAnswer | 'unavailable' = 'approved';
  during?: () => void;

  async start(): Promise<string> {
    return SID;
  }

  async check(to: string, verificationId: string, code: string): Promise<VerifierAnswer> {
    this.asked.push({ to, verificationId, code });
    this.during?.();
    if (this.answer === 'unavailable') throw new VerifierUnavailable('twilio-verify: HTTP 503');
    return this.answer;
  }
}

describe(`${PhoneVerifier.name} with a delegated verifier`, () => {
  let sut: PhoneVerifier;
  let provider: ScriptedVerifier;
  let tx: FakeTransactions;
  let users: FakeUsers;
  let codes: FakePhoneCodes;
  let events: FakeEvents;
  let store: InMemoryLimitStore;
  let mac: CodeMac;
  let clock: ManualClock;
  let user: UserEntity;

  const { self } = phoneCallers(() => user, ORG);

  beforeEach(() => {
    provider = new ScriptedVerifier();
    ({ tx, users, codes, events, store, mac, clock, verifier: sut } = phoneUseCases({}, provider));
    user = users.add(aHuman({ orgId: ORG, phone: NUMBER }));
  });

  /** A code queued for the provider; `verificationId` once the provider accepted the start. */
  const pending = (verificationId: string | null = SID) =>
    codes.add({
      userId: user.id,
      phone: NUMBER,
      mac: mac.sign(user.id, NUMBER, '111111'),
      keyId: mac.currentKeyId,
      expiresAt: new Date(clock.now().getTime() + 600_000),
      smsQueuedAt: clock.now(),
      verificationId,
    });
  const failures = () => store.hits.get(FAILURES(user.id))?.length ?? 0;

  it('asks the provider with its verification id and verifies the number on approved', async () => {
    pending();
    await sut.verifyPhone(self(), user.id, ' 482913 ');
    expect(provider.asked).toEqual([{ to: NUMBER, verificationId: SID, code: '482913' }]);
    expect(users.get(user.id)?.phoneVerified).toBe(true);
    expect(codes.get(user.id)?.consumedAt).not.toBeNull();
    expect([failures(), tx.ends]).toEqual([0, ['committed', 'committed']]);
  });

  it('never compares the locally drawn code: the provider decides', async () => {
    pending();
    provider.answer = 'wrong';
    await expect(sut.verifyPhone(self(), user.id, '111111')).rejects.toMatchObject({ id: 'COMMAND-eis9R' });
    expect(users.get(user.id)?.phoneVerified).toBe(false);
  });

  it.each<[VerifierAnswer, string, number]>([
    ['wrong', 'COMMAND-eis9R', 1],
    ['expired', 'CODE-QvUQ4P', 1],
    ['exhausted', 'PHONE-attempts', 5],
  ])('records %s as %s: a failure counted, the attempt kept (%i used)', async (answer, id, attempts) => {
    pending();
    provider.answer = answer;
    await expect(sut.verifyPhone(self(), user.id, '482913')).rejects.toMatchObject({ id });
    expect([failures(), codes.get(user.id)?.attempts]).toEqual([1, attempts]);
    expect(events.typesOf(user.id)).toEqual(['user.human.phone.verification.failed']);
  });

  it('answers 503 when the provider gives no answer, with the attempt given back and nothing counted', async () => {
    pending();
    provider.answer = 'unavailable';
    await expect(sut.verifyPhone(self(), user.id, '482913')).rejects.toMatchObject({ code: 14, id: 'API-unavail' });
    expect([codes.get(user.id)?.attempts, failures(), events.typesOf(user.id)]).toEqual([0, 0, []]);
  });

  it('refuses an approval for a code replaced while the provider was asked', async () => {
    pending();
    provider.during = () => codes.add({ userId: user.id, id: 'newer', phone: NUMBER, smsQueuedAt: clock.now() });
    await expect(sut.verifyPhone(self(), user.id, '482913')).rejects.toMatchObject({ id: 'COMMAND-2M9fs' });
    expect([users.get(user.id)?.phoneVerified, codes.get(user.id)?.consumedAt]).toEqual([false, null]);
  });

  it('counts a wrong code without asking the provider before it accepted the start', async () => {
    pending(null);
    await expect(sut.verifyPhone(self(), user.id, '482913')).rejects.toMatchObject({ id: 'COMMAND-eis9R' });
    expect([provider.asked, failures(), codes.get(user.id)?.attempts]).toEqual([[], 1, 1]);
  });

  it('compares a code that was never queued (a test number) here, without asking the provider', async () => {
    codes.add({
      userId: user.id,
      phone: NUMBER,
      mac: mac.sign(user.id, NUMBER, '424242'),
      keyId: mac.currentKeyId,
      expiresAt: new Date(clock.now().getTime() + 600_000),
      smsQueuedAt: null,
    });
    await sut.verifyPhone(self(), user.id, '424242');
    expect([provider.asked, users.get(user.id)?.phoneVerified]).toEqual([[], true]);
  });

  it('refuses without asking the provider once the service’s own attempts are used', async () => {
    pending();
    codes.rows.get(user.id)!.attempts = 5;
    await expect(sut.verifyPhone(self(), user.id, '482913')).rejects.toMatchObject({ id: 'PHONE-attempts' });
    expect(provider.asked).toEqual([]);
  });
});
