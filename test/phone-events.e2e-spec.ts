import type { Response } from 'supertest';
import { bearer, DATABASES, TestApp } from './support/test-app';
import { createMachineWithToken, createOrg } from './support/factories';
import { eventsOf, StoredEvent } from './support/events';
import { outboxIdle, phoneApi, phoneErrors, startPhoneApp, wrongCodeFor } from './support/phone-api';

const TTL = 600_000;
const E = {
  added: 'user.human.added',
  changed: 'user.human.phone.changed',
  codeAdded: 'user.human.phone.code.added',
  codeSent: 'user.human.phone.code.sent',
  verified: 'user.human.phone.verified',
  failed: 'user.human.phone.verification.failed',
  removed: 'user.human.phone.removed',
};

/** Contract §8 (events) and §5 (details) for every phone call. */
describe.each(DATABASES)('phone events and details (%s)', (db) => {
  let t: TestApp;
  let api: ReturnType<typeof phoneApi>;
  let orgId: string;
  let adminId: string;

  beforeAll(async () => {
    t = await startPhoneApp(db, { PHONE_MAX_FAILED_PER_DAY: '1000' });
    api = phoneApi(t);
    orgId = await createOrg(t);
    const machine = await createMachineWithToken(t, orgId);
    adminId = (await eventsOf(t, machine.userId))[0].creator;
  }, 60_000);
  afterAll(() => t?.close(), 60_000);

  /**
   * Runs one call and returns the events it appended (`own`: up to details.sequence, or all for an
   * error) and those the SMS outbox appended after the commit (`later`).
   */
  async function appended(userId: string, call: () => Promise<Response>) {
    const before = (await eventsOf(t, userId)).length;
    const res = await call();
    await outboxIdle(t);
    const all = await eventsOf(t, userId);
    const last = res.status === 200 ? Number(res.body.details.sequence) : all.length;
    return { res, events: all.slice(before, last), later: all.slice(last), all };
  }

  /** details = the last event of the call (contract §5); all events of one call share one time. */
  function expectDetails(res: Response, events: StoredEvent[]) {
    expect(res.status).toBe(200);
    const last = events.at(-1)!;
    expect(res.body.details).toEqual({
      sequence: String(last.sequence),
      changeDate: new Date(last.createdAt).toISOString(),
      resourceOwner: orgId,
    });
    for (const event of events) {
      expect(event.createdAt).toBe(last.createdAt);
      expect(event.resourceOwner).toBe(orgId);
      expect(event.creator).toBe(adminId);
    }
  }

  /** What the outbox appends once the SMS of a send_code call went out (SMS_PROVIDER=none). */
  function expectSent(later: StoredEvent[]) {
    expect(later.map((e) => ({ type: e.type, payload: e.payload, creator: e.creator }))).toEqual([
      { type: E.codeSent, payload: { provider: 'none', attempts: 1, channel: 'sms' }, creator: 'SYSTEM' },
    ]);
  }

  const failure = (reason: string, extra: object = {}) => ({ type: E.failed, payload: { reason, ...extra } });
  const shape = (events: StoredEvent[]) => events.map((e) => ({ type: e.type, payload: e.payload }));

  it('records every step of a phone verification, with details pointing at the last event', async () => {
    // AddHumanUser with a phone and returnCode
    const created = await t
      .http()
      .post('/v2/users/human')
      .set(bearer(t.adminToken))
      .send({
        organization: { orgId },
        profile: { givenName: 'Minnie', familyName: 'Mouse' },
        email: { email: 'minnie.events@example.com', isVerified: true },
        phone: { phone: '+41 79 123 45 67', returnCode: {} },
      })
      .expect(200);
    const userId = created.body.userId as string;
    const events = await eventsOf(t, userId);
    expect(events.map((e) => e.type)).toEqual([E.added, E.changed, E.codeAdded]);
    expect(events[1].payload).toEqual({ phone: '+41791234567' });
    expect(events[2].payload).toEqual({
      expiry: new Date(events[2].createdAt + TTL).toISOString(),
      codeReturned: true,
    });
    expect(created.body.details.sequence).toBe('3');
    expect(created.body.details.resourceOwner).toBe(orgId);

    // SetPhone (default: send)
    let step = await appended(userId, () => api.set(userId, { phone: '+41 78 765 43 21' }));
    expectDetails(step.res, step.events);
    expect(shape(step.events)).toEqual([
      { type: E.changed, payload: { phone: '+41787654321' } },
      {
        type: E.codeAdded,
        payload: { expiry: new Date(step.events[0].createdAt + TTL).toISOString(), codeReturned: false },
      },
    ]);
    expectSent(step.later);

    // ResendPhoneCode with returnCode
    step = await appended(userId, () => api.resend(userId, { returnCode: {} }));
    expectDetails(step.res, step.events);
    expect(shape(step.events)).toEqual([
      {
        type: E.codeAdded,
        payload: { expiry: new Date(step.events[0].createdAt + TTL).toISOString(), codeReturned: true },
      },
    ]);
    expect(step.later).toEqual([]);
    const code = step.res.body.verificationCode as string;

    // a wrong code
    step = await appended(userId, () => api.verify(userId, wrongCodeFor(code)));
    phoneErrors.wrongCode(step.res, 4);
    expect(shape(step.events)).toEqual([failure('wrong_code', { attemptsRemaining: 4, codeDead: false })]);

    // the right code
    step = await appended(userId, () => api.verify(userId, code));
    expectDetails(step.res, step.events);
    expect(shape(step.events)).toEqual([{ type: E.verified, payload: {} }]);

    // already verified: nothing changes, nothing is appended (counted in the metrics only)
    step = await appended(userId, () => api.verify(userId, code));
    phoneErrors.noCode(step.res);
    expect(step.events).toEqual([]);

    // RemovePhone
    step = await appended(userId, () => api.remove(userId));
    expectDetails(step.res, step.events);
    expect(shape(step.events)).toEqual([{ type: E.removed, payload: {} }]);

    // nothing pending after the removal: nothing appended either
    step = await appended(userId, () => api.verify(userId, code));
    phoneErrors.noCode(step.res);
    expect(step.events).toEqual([]);

    // SetPhone with isVerified
    step = await appended(userId, () => api.set(userId, { phone: '+41791234567', isVerified: true }));
    expectDetails(step.res, step.events);
    expect(shape(step.events)).toEqual([
      { type: E.changed, payload: { phone: '+41791234567' } },
      { type: E.verified, payload: {} },
    ]);

    // the per-user sequence has no gap, and GetUserByID reports the last one
    expect(step.all.map((e) => e.sequence)).toEqual(step.all.map((_, i) => i + 1));
    const user = await api.get(userId).expect(200);
    expect(user.body.details.sequence).toBe(String(step.all.length));
    expect(user.body.details.resourceOwner).toBe(orgId);
  });

  it('records expired codes and exhausted attempts, and nothing for refused or invalid requests', async () => {
    const { body } = await t
      .http()
      .post('/v2/users/human')
      .set(bearer(t.adminToken))
      .send({
        organization: { orgId },
        profile: { givenName: 'Minnie', familyName: 'Mouse' },
        email: { email: 'minnie.failures@example.com', isVerified: true },
        phone: { phone: '+41791234567', returnCode: {} },
      })
      .expect(200);
    const userId = body.userId as string;
    const code = body.phoneCode as string;

    const roleless = await createMachineWithToken(t, orgId);
    const nothing = [
      () => phoneApi(t, roleless.token).verify(userId, code),
      () => api.verify(userId, ''),
      () => api.set(userId, { phone: 'not a number', returnCode: {} }),
      () => api.set(userId, { phone: '+41791234567', returnCode: {} }),
      () => t.http().post(`/v2/users/${userId}/phone/verify`).send({ verificationCode: code }),
    ];
    for (const call of nothing) {
      const step = await appended(userId, call);
      expect(step.res.status).toBeGreaterThanOrEqual(400);
      expect(step.events).toEqual([]);
    }

    for (let left = 4; left >= 0; left--) {
      const step = await appended(userId, () => api.verify(userId, wrongCodeFor(code)));
      phoneErrors.wrongCode(step.res, left);
      expect(shape(step.events)).toEqual([failure('wrong_code', { attemptsRemaining: left, codeDead: left === 0 })]);
    }
    let step = await appended(userId, () => api.verify(userId, code));
    phoneErrors.exhausted(step.res);
    expect(shape(step.events)).toEqual([failure('attempts_exhausted')]);

    step = await appended(userId, () => api.resend(userId, { returnCode: {} }));
    expectDetails(step.res, step.events);
    t.clock.advance(TTL + 1_000);
    step = await appended(userId, () => api.verify(userId, step.res.body.verificationCode));
    phoneErrors.expired(step.res);
    expect(shape(step.events)).toEqual([failure('expired')]);
  });
});
