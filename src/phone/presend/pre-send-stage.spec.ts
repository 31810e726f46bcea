import { CallerRef } from '../../common/auth/caller-ref';
import { unitConfig } from '../../../test/support/fakes/config';
import { aHuman, FakeUsers } from '../../../test/support/fakes/users';
import type { UsersRepository } from '../../users/users.repository';
import { PhoneNumberParser } from '../phone-number';
import { TestNumbers } from '../test-numbers';
import type { PreSendChecks, SendSubject } from './pre-send-checks';
import { PreSendStage } from './pre-send-stage';

const SEND = { kind: 'send' } as const;

function stage(env: Record<string, string> = {}, enabled = true) {
  const config = unitConfig(env);
  const users = new FakeUsers();
  const judged: SendSubject[] = [];
  const checks = {
    enabled,
    judge: async (subject: SendSubject) => {
      judged.push(subject);
      return {};
    },
  } as unknown as PreSendChecks;
  const sut = new PreSendStage(
    checks,
    users as unknown as UsersRepository,
    new PhoneNumberParser(config.codes),
    new TestNumbers(config.codes, config.app),
  );
  return { sut, users, judged };
}

const self = (user: { id: string; orgId: string }) => CallerRef.of({ userId: user.id, orgId: user.orgId, grants: [] });
const manager = (orgId: string) =>
  CallerRef.of({ userId: '900000000000000001', orgId, grants: [{ scope: orgId, role: 'ORG_USER_MANAGER' }] });
const stranger = () => CallerRef.of({ userId: '900000000000000002', orgId: '1', grants: [] });

describe(PreSendStage.name, () => {
  it('judges a self-service SetPhone send with the new number, its use and origin', async () => {
    const { sut, users, judged } = stage();
    const user = users.add(aHuman());
    const origin = { clientAddress: '203.0.113.5', captchaToken: 't' };
    await sut.before({ ref: self(user), userId: user.id, verification: SEND, phone: '+41 79 765 43 21', origin });
    expect(judged).toHaveLength(1);
    expect(judged[0]).toMatchObject({ use: 'set_phone', phone: { e164: '+41797654321', country: 'CH' }, origin });
    expect(judged[0].caller.userId).toBe(user.id);
  });

  it("judges a manager's send and a resend to the user's own number", async () => {
    const { sut, users, judged } = stage();
    const user = users.add(aHuman({ phone: '+41791112233' }));
    await sut.before({ ref: manager(user.orgId), userId: user.id, verification: SEND });
    expect(judged[0]).toMatchObject({ use: 'resend_code', phone: { e164: '+41791112233' } });
  });

  it('judges nothing with no check configured, or for return_code and is_verified', async () => {
    const off = stage({}, false);
    const user = off.users.add(aHuman());
    await off.sut.before({ ref: self(user), userId: user.id, verification: SEND, phone: '+41797654321' });
    expect(off.judged).toEqual([]);
    const { sut, users, judged } = stage();
    const other = users.add(aHuman());
    for (const verification of [{ kind: 'return' }, { kind: 'verified' }] as const) {
      await sut.before({ ref: manager(other.orgId), userId: other.id, verification, phone: '+41797654321' });
    }
    expect(judged).toEqual([]);
  });

  it('leaves to the transaction what it refuses anyway: a stranger, a missing user, a bad or unchanged number, a verified one', async () => {
    const { sut, users, judged } = stage();
    const user = users.add(aHuman({ phone: '+41791112233' }));
    const verified = users.add(aHuman({ phone: '+41791112244', phoneVerified: true }));
    await expect(
      Promise.all([
        sut.before({ ref: stranger(), userId: user.id, verification: SEND, phone: '+41797654321' }),
        sut.before({ ref: self(user), userId: '1', verification: SEND, phone: '+41797654321' }),
        sut.before({ ref: self(user), userId: user.id, verification: SEND, phone: 'not a number' }),
        sut.before({ ref: self(user), userId: user.id, verification: SEND, phone: '+41791112233' }),
        sut.before({ ref: self(verified), userId: verified.id, verification: SEND }),
      ]),
    ).resolves.toEqual([{}, {}, {}, {}, {}]);
    expect(judged).toEqual([]);
  });

  it('never judges a number of SMS_TEST_NUMBERS (no text is sent to it)', async () => {
    const { sut, users, judged } = stage({ SMS_TEST_NUMBERS: '+41790000001=123456' });
    const user = users.add(aHuman());
    await sut.before({ ref: self(user), userId: user.id, verification: SEND, phone: '+41790000001' });
    expect(judged).toEqual([]);
  });
});
