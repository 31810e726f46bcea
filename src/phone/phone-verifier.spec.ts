import { unitConfig } from '../../test/support/fakes/config';
import { InMemoryBackoffStore } from '../../test/support/fakes/backoff-store';
import { ManualClock } from '../../test/support/fakes/clock';
import { FakeEvents } from '../../test/support/fakes/events';
import { InMemoryLimitStore } from '../../test/support/fakes/limit-store';
import { limitMetrics } from '../../test/support/fakes/metrics';
import { FakePhoneCodes } from '../../test/support/fakes/phone-codes';
import { phoneCallers, phoneUseCases } from '../../test/support/fakes/phone-use-cases';
import { FakeTransactions, fakeTx } from '../../test/support/fakes/transactions';
import { aHuman, FakeUsers } from '../../test/support/fakes/users';
import { Closing } from '../database/sql';
import { UserEntity } from '../users/entities/user.entity';
import { CodeMac } from './code-mac';
import { backoffKey, PhoneLimits } from './phone-limits';
import { PhoneVerifier } from './phone-verifier';

const ORG = '200000000000000001';
const NUMBER = '+41791234567';
const CODE = '482913';

const PERMISSION_DENIED = { code: 7, id: 'AUTH-AWfge' };

describe(PhoneVerifier.name, () => {
  let sut: PhoneVerifier;
  let tx: FakeTransactions;
  let users: FakeUsers;
  let codes: FakePhoneCodes;
  let events: FakeEvents;
  let store: InMemoryLimitStore;
  let backoff: InMemoryBackoffStore;
  let mac: CodeMac;
  let clock: ManualClock;
  let user: UserEntity;

  const { self, granted, manager, unknownToken } = phoneCallers(() => user, ORG);

  beforeEach(() => {
    ({ tx, users, codes, events, store, backoff, mac, clock, verifier: sut } = phoneUseCases());
    user = users.add(aHuman({ orgId: ORG, phone: NUMBER }));
  });

  /** The code the user was sent for its number. */
  const pending = () =>
    codes.add({
      userId: user.id,
      phone: NUMBER,
      mac: mac.sign(user.id, NUMBER, CODE),
      keyId: mac.currentKeyId,
      expiresAt: new Date(clock.now().getTime() + 600_000),
    });

  it('marks the number verified with the right code', async () => {
    pending();
    await sut.verifyPhone(self(), user.id, CODE);
    expect(users.get(user.id)?.phoneVerified).toBe(true);
  });

  it('ends the user’s SMS back-off for the number, in the closing writes (no round trip of its own)', async () => {
    pending();
    backoff.records.set(backoffKey(NUMBER, user.id), { sends: 7, nextAt: clock.now().getTime() + 600_000 });
    // the reset is held back: had the work awaited it on its own, no Closing could be handed back
    let release!: () => void;
    const held = new Promise<void>((resolve) => (release = resolve));
    const reset = jest.spyOn(backoff, 'reset').mockImplementation(async (key) => {
      await held;
      backoff.records.delete(key);
    });
    const run = tx.transaction.bind(tx);
    let closingReturned = false;
    jest.spyOn(tx, 'transaction').mockImplementation((work) =>
      run(async (handle) => {
        const outcome = await work(handle);
        closingReturned = outcome instanceof Closing;
        return outcome;
      }),
    );
    const verifying = sut.verifyPhone(self(), user.id, CODE);
    await new Promise((resolve) => setImmediate(resolve));
    expect(closingReturned).toBe(true);
    expect(reset).toHaveBeenCalledWith(backoffKey(NUMBER, user.id), expect.anything());
    expect(tx.ends).toEqual([]);
    release();
    await verifying;
    expect(tx.ends).toEqual(['committed']);
    expect(backoff.records.size).toBe(0);
  });

  it('keeps the back-off when the check fails', async () => {
    pending();
    backoff.records.set(backoffKey(NUMBER, user.id), { sends: 7, nextAt: clock.now().getTime() + 600_000 });
    await expect(sut.verifyPhone(self(), user.id, '000000')).rejects.toMatchObject({ id: 'COMMAND-eis9R' });
    expect(backoff.records.size).toBe(1);
  });

  it('appends phone.verified and reports its sequence', async () => {
    pending();
    const details = await sut.verifyPhone(self(), user.id, CODE);
    expect([events.typesOf(user.id), details.sequence]).toEqual([['user.human.phone.verified'], user.sequence + 1]);
  });

  it('lets a caller with user.write verify another user’s number', async () => {
    pending();
    await expect(sut.verifyPhone(manager(), user.id, CODE)).resolves.toMatchObject({ resourceOwner: ORG });
  });

  it('refuses a caller without user.write before the code is compared, rolling back the claim issued with the load', async () => {
    pending();
    await expect(sut.verifyPhone(granted('ORG_OWNER_VIEWER'), user.id, CODE)).rejects.toMatchObject(PERMISSION_DENIED);
    // the claim travels with the load (one round trip) and is undone by the rollback
    expect([codes.writes, tx.ends, events.appended]).toEqual([['claim attempt'], ['rolled back'], []]);
  });

  it('refuses an unknown token before anything commits: its lookup travels with the load and the claim', async () => {
    pending();
    await expect(sut.verifyPhone(unknownToken(), user.id, CODE)).rejects.toMatchObject({ code: 16 });
    expect([codes.writes, tx.ends, events.appended, users.get(user.id)?.phoneVerified]).toEqual([
      ['claim attempt'],
      ['rolled back'],
      [],
      false,
    ]);
  });

  it('answers a wrong code with its error, after committing the refusal', async () => {
    pending();
    await expect(sut.verifyPhone(self(), user.id, '000000')).rejects.toMatchObject({ id: 'COMMAND-eis9R' });
    expect(tx.ends).toEqual(['committed']);
  });

  it('keeps the attempt a wrong code used', async () => {
    pending();
    await sut.verifyPhone(self(), user.id, '000000').catch(() => undefined);
    expect(codes.get(user.id)?.attempts).toBe(1);
  });

  it('appends verification.failed with the reason and the attempts left', async () => {
    pending();
    await sut.verifyPhone(self(), user.id, '000000').catch(() => undefined);
    expect(events.appended.map((e) => [e.type, e.payload])).toEqual([
      ['user.human.phone.verification.failed', { reason: 'wrong_code', attemptsRemaining: 4, codeDead: false }],
    ]);
  });

  it('counts a wrong code towards the daily failure limit', async () => {
    pending();
    await sut.verifyPhone(self(), user.id, '000000').catch(() => undefined);
    expect(store.count(`verify:failed:${user.id}`)).toBe(1);
  });

  it('marks the event of the failure that reaches the daily limit: the user is locked out', async () => {
    pending();
    const limits = new PhoneLimits(unitConfig().limits, store, limitMetrics(), new InMemoryBackoffStore());
    for (let i = 0; i < 13; i++) await limits.recordFailedCheck(fakeTx, user.id, clock.now());
    await sut.verifyPhone(self(), user.id, '000000').catch(() => undefined);
    await sut.verifyPhone(self(), user.id, '000000').catch(() => undefined);
    expect(events.appended.map((e) => e.payload)).toEqual([
      { reason: 'wrong_code', attemptsRemaining: 4, codeDead: false },
      { reason: 'wrong_code', attemptsRemaining: 3, codeDead: false, lockedOut: true },
    ]);
  });

  it('neither counts a check refused by the daily failure limit again nor appends an event for it', async () => {
    pending();
    const limits = new PhoneLimits(unitConfig().limits, store, limitMetrics(), new InMemoryBackoffStore());
    for (let i = 0; i < 15; i++) await limits.recordFailedCheck(fakeTx, user.id, clock.now());
    await expect(sut.verifyPhone(self(), user.id, CODE)).rejects.toMatchObject({ id: 'PHONE-ratelimit' });
    expect(store.count(`verify:failed:${user.id}`)).toBe(15);
    expect(events.appended).toEqual([]);
  });

  it('rolls everything back when the limit store cannot answer: the error propagates, nothing is appended', async () => {
    pending();
    const down = new Error('Connection is closed.');
    store.failWith = down;
    await expect(sut.verifyPhone(self(), user.id, CODE)).rejects.toBe(down);
    expect([tx.ends, events.appended, users.get(user.id)?.phoneVerified]).toEqual([['rolled back'], [], false]);
  });

  it('answers "Code not found" when no code is pending, and changes nothing: no failure counted, no event', async () => {
    for (let i = 0; i < 3; i++) {
      await expect(sut.verifyPhone(self(), user.id, CODE)).rejects.toMatchObject({ id: 'COMMAND-2M9fs' });
    }
    expect(events.appended).toEqual([]);
    expect(store.count(`verify:failed:${user.id}`)).toBe(0);
  });

  it('answers "Phone not found" for a user that is not human', async () => {
    const machine = users.add(aHuman({ type: 'machine', orgId: ORG }));
    await expect(sut.verifyPhone(manager(), machine.id, CODE)).rejects.toMatchObject({ id: 'COMMAND-ieJ2e' });
  });

  it('cannot verify twice with one code', async () => {
    pending();
    await sut.verifyPhone(self(), user.id, CODE);
    await expect(sut.verifyPhone(self(), user.id, CODE)).rejects.toMatchObject({ id: 'COMMAND-2M9fs' });
  });
});
