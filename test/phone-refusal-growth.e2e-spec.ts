import { EventEntity } from '../src/common/events/event.entity';
import { LimitHitEntity } from '../src/common/limits/limit-hit.entity';
import { PhoneEvents } from '../src/phone/phone-events';
import { eventsOf } from './support/events';
import { createHuman, createOrg, randomMobile } from './support/factories';
import { phoneApi, phoneErrors, wrongCodeFor } from './support/phone-api';
import { scrape, valueOf } from './support/prometheus';
import { DATABASES, dataSourceOf, Db, freePort, startApp, TestApp } from './support/test-app';

jest.setTimeout(120_000);

/**
 * Issue 26, finding 6: every refused VerifyPhone appended an event, also "no code pending" and
 * "daily limit reached" (200 calls by one user gave 201 rows). Now a check appends an event only
 * when it changed something (an attempt used, a code killed, a failure counted, a number
 * verified); the other refusals are counted in the metrics only.
 */
describe.each(DATABASES)('refused checks that change nothing write nothing (%s)', (db: Db) => {
  let t: TestApp;
  let orgId: string;

  beforeAll(async () => {
    t = await startApp(db, { PHONE_MAX_FAILED_PER_DAY: '3', METRICS_PORT: String(await freePort()) });
    orgId = await createOrg(t);
  }, 60_000);
  afterAll(() => t?.close(), 60_000);

  const rowsOf = async (userId: string) => ({
    events: await dataSourceOf(t).getRepository(EventEntity).countBy({ aggregateId: userId }),
    limitHits: await dataSourceOf(t)
      .getRepository(LimitHitEntity)
      .countBy({ key: `verify:failed:${userId}` }),
  });
  const outcomes = async (outcome: string) => valueOf(await scrape(t), 'pv_phone_verifications_total', { outcome });

  it('200 VerifyPhone calls with no code pending add no event row and count no failure', async () => {
    const api = phoneApi(t);
    const { userId } = await createHuman(t, { orgId });
    const before = await rowsOf(userId);
    const metricBefore = await outcomes('none_pending');
    for (let i = 0; i < 200; i++) phoneErrors.noCode(await api.verify(userId, '123456'));
    expect(await rowsOf(userId)).toEqual(before);
    // counted in the metrics instead
    expect((await outcomes('none_pending')) - metricBefore).toBe(200);
  });

  it('checks refused by the daily failure limit add no event row either; counted failures do', async () => {
    const api = phoneApi(t);
    const { userId, phoneCode } = await createHuman(t, { orgId, phone: randomMobile(), phoneMode: 'returnCode' });
    const before = await rowsOf(userId);
    for (let left = 4; left >= 2; left--)
      phoneErrors.wrongCode(await api.verify(userId, wrongCodeFor(phoneCode!)), left);
    const limitedBefore = await outcomes('limited');
    const counted = await rowsOf(userId);
    expect(counted).toEqual({ events: before.events + 3, limitHits: before.limitHits + 3 });
    // the failure that reached PHONE_MAX_FAILED_PER_DAY says the user is locked out
    const failures = (await eventsOf(t, userId)).filter((e) => e.type === PhoneEvents.verificationFailed);
    expect(failures.map((e) => e.payload.lockedOut)).toEqual([undefined, undefined, true]);
    for (let i = 0; i < 50; i++) expect((await api.verify(userId, wrongCodeFor(phoneCode!))).status).toBe(429);
    expect(await rowsOf(userId)).toEqual(counted);
    expect((await outcomes('limited')) - limitedBefore).toBe(50);
  });
});
