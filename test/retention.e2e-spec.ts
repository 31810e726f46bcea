import { EventEntity } from '../src/common/events/event.entity';
import { LimitBackoffEntity } from '../src/common/limits/limit-backoff.entity';
import { LimitHitEntity } from '../src/common/limits/limit-hit.entity';
import { SmsFraudCountEntity } from '../src/phone/fraud/sms-fraud-count.entity';
import { SmsOutboxEntity } from '../src/phone/outbox/sms-outbox.entity';
import { SmsReceiptEntity } from '../src/phone/outbox/sms-receipt.entity';
import { SmsSpendCountEntity } from '../src/phone/spend/sms-spend-count.entity';
import { previousMonthStart } from '../src/phone/spend/spend-caps';
import { PhoneEvents } from '../src/phone/phone-events';
import { RetentionSweeper } from '../src/phone/retention/retention-sweeper';
import { eventsOf } from './support/events';
import { createHuman, createOrg, randomMobile } from './support/factories';
import { outboxIdle } from './support/phone-api';
import { scrape, valueOf } from './support/prometheus';
import { DATABASES, dataSourceOf, Db, freePort, startApp, TestApp } from './support/test-app';

jest.setTimeout(60_000);

const HOUR = 3_600_000;
const DAY = 86_400_000;

/**
 * Issue 26, finding 6: sms_outbox rows (with the recipient's number), receipts, the pumping
 * guard's counters and the phone numbers in event payloads were never pruned. The retention sweep
 * prunes what is older than its setting, on both databases, and keeps everything younger.
 */
describe.each(DATABASES)('retention (%s)', (db: Db) => {
  let t: TestApp;
  let orgId: string;

  beforeAll(async () => {
    t = await startApp(db, {
      SMS_OUTBOX_RETENTION: '7d',
      SMS_RECEIPT_RETENTION: '1d',
      SMS_FRAUD_COUNTER_RETENTION: '15d',
      EVENT_PHONE_RETENTION: '30d',
      METRICS_PORT: String(await freePort()),
    });
    orgId = await createOrg(t);
  }, 60_000);
  afterAll(() => t?.close(), 60_000);

  const repo = <T extends object>(entity: new () => T) => dataSourceOf(t).getRepository(entity);
  const sweep = () => t.app.get(RetentionSweeper).sweep();

  /** A user whose number was set (and sent an SMS, delivered) now; its number is in its phone.changed event. */
  async function userWithSentCode(): Promise<{ userId: string; number: string }> {
    const number = randomMobile();
    const { userId } = await createHuman(t, { orgId, phone: number, phoneMode: 'sendCode' });
    await outboxIdle(t);
    return { userId, number };
  }

  const fraudCount = (tag: string, at: number) =>
    repo(SmsFraudCountEntity).insert({ key: `p:+4179${tag}`, hour: String(at - (at % HOUR)), sent: 3, verified: 0 });

  /** Rows written straight to the tables, at `at`, each with a key naming `tag`. */
  async function seed(tag: string, at: number): Promise<void> {
    await repo(SmsReceiptEntity).insert({
      provider: 'twilio',
      providerMessageId: `SM-${tag}`,
      status: 'delivered',
      errorCode: null,
      statusAt: new Date(at),
      receivedAt: new Date(at),
    });
    await fraudCount(tag, at);
    await repo(LimitHitEntity).insert({ id: `hit-${tag}`, key: `sms:user:${tag}`, at: new Date(at) });
    await repo(LimitBackoffEntity).insert({
      key: `sms:backoff:+4179${tag}:1`,
      sends: 4,
      nextAt: new Date(at + 60_000),
      expiresAt: new Date(at + 60_000 + DAY),
    });
  }

  it('prunes what is older than its retention, redacts old phone numbers in events, and keeps the rest', async () => {
    const old = await userWithSentCode();
    const oldEvents = await eventsOf(t, old.userId);
    expect(oldEvents.find((e) => e.type === PhoneEvents.changed)?.payload).toEqual({ phone: old.number });
    await seed('old', t.clock.now().getTime());
    const blocked = {
      id: `evt-blocked-${Date.now()}`,
      aggregateType: 'user',
      aggregateId: `blocked-${Date.now()}`,
      sequence: 1,
      type: PhoneEvents.codeSendBlocked,
      payload: JSON.stringify({ rule: 'prefix_daily', country: 'CH', prefix: '+4179123' }),
      creator: 'x',
      resourceOwner: orgId,
      createdAt: t.clock.now(),
    };
    await repo(EventEntity).insert(blocked);

    // nothing is old enough yet
    expect(await sweep()).toEqual({
      outbox: 0,
      receipts: 0,
      fraud_counts: 0,
      verified_numbers: 0,
      spend_counts: 0,
      limit_hits: 0,
      limit_backoffs: 0,
      event_phones: 0,
      idempotency_keys: 0,
      webhooks: 0,
    });

    t.clock.advance(31 * DAY);
    const recent = await userWithSentCode();
    await seed('new', t.clock.now().getTime());
    // (a send prunes the counters too, once an hour: this one is older than the retention, written after it)
    await fraudCount('old', t.clock.now().getTime() - 16 * DAY);
    // the spend counters: this month's and the last one's days stay
    const lastMonth = previousMonthStart(t.clock.now());
    for (const [key, day] of [
      ['i:old', lastMonth - DAY],
      ['i:new', lastMonth],
    ] as const) {
      await repo(SmsSpendCountEntity).insert({ key, day: String(day), micros: 50_000 });
    }
    const before = {
      outbox: await repo(SmsOutboxEntity).count(),
      events: await repo(EventEntity).count(),
    };

    const pruned = await sweep();
    // limit hits: the seeded one and the first user's send (per user, per number and user, per number)
    expect(pruned).toEqual({
      outbox: 1,
      receipts: 1,
      fraud_counts: 1,
      verified_numbers: 0,
      spend_counts: 1,
      limit_hits: 4,
      limit_backoffs: 1,
      event_phones: 2,
      idempotency_keys: 0,
      webhooks: 0,
    });

    // sms_outbox: the old message is gone (its recipient's number with it), the recent one stays
    expect(await repo(SmsOutboxEntity).count()).toBe(before.outbox - 1);
    expect(await repo(SmsOutboxEntity).countBy({ userId: old.userId })).toBe(0);
    expect(await repo(SmsOutboxEntity).findOneBy({ userId: recent.userId })).toMatchObject({
      recipient: recent.number,
      status: 'delivered',
    });
    // receipts, counters, limit hits and back-offs: the old ones only
    expect((await repo(SmsReceiptEntity).find()).map((r) => r.providerMessageId)).toEqual(['SM-new']);
    expect(await repo(SmsFraudCountEntity).countBy({ key: 'p:+4179old' })).toBe(0);
    expect(await repo(SmsFraudCountEntity).countBy({ key: 'p:+4179new' })).toBe(1);
    expect((await repo(SmsSpendCountEntity).find()).map((row) => row.key)).toEqual(['i:new']);
    expect(await repo(LimitHitEntity).countBy({ id: 'hit-old' })).toBe(0);
    expect(await repo(LimitHitEntity).countBy({ id: 'hit-new' })).toBe(1);
    expect(await repo(LimitBackoffEntity).countBy({ key: 'sms:backoff:+4179old:1' })).toBe(0);
    expect(await repo(LimitBackoffEntity).countBy({ key: 'sms:backoff:+4179new:1' })).toBe(1);

    // events: none deleted; the old numbers redacted, sequence and everything else unchanged
    expect(await repo(EventEntity).count()).toBe(before.events);
    const redacted = await eventsOf(t, old.userId);
    expect(redacted.map((e) => [e.sequence, e.type])).toEqual(oldEvents.map((e) => [e.sequence, e.type]));
    expect(redacted.find((e) => e.type === PhoneEvents.changed)?.payload).toEqual({ phone: null, redacted: true });
    expect(JSON.stringify(redacted)).not.toContain(old.number);
    expect(JSON.parse((await repo(EventEntity).findOneByOrFail({ id: blocked.id })).payload)).toEqual({
      rule: 'prefix_daily',
      country: 'CH',
      prefix: null,
      redacted: true,
    });
    expect((await eventsOf(t, recent.userId)).find((e) => e.type === PhoneEvents.changed)?.payload).toEqual({
      phone: recent.number,
    });
    expect(valueOf(await scrape(t), 'pv_retention_pruned_total', { what: 'event_phones' })).toBe(2);

    // a second sweep finds nothing more; the recent rows go once they are old in turn
    expect(Object.values((await sweep())!).every((n) => n === 0)).toBe(true);
    t.clock.advance(31 * DAY);
    expect(await sweep()).toMatchObject({ outbox: 1, receipts: 1, limit_hits: 4, limit_backoffs: 1, event_phones: 1 });
    expect(await repo(SmsOutboxEntity).countBy({ userId: recent.userId })).toBe(0);
  });

  it('keeps a message a receipt may still send again, until its life has run out', async () => {
    const { userId } = await userWithSentCode();
    const row = await repo(SmsOutboxEntity).findOneByOrFail({ userId });
    // as if its code lived on (a provider accepted it; an undelivered receipt could still resend it)
    await repo(SmsOutboxEntity).update({ id: row.id }, { giveUpAt: new Date(t.clock.now().getTime() + 30 * DAY) });
    t.clock.advance(8 * DAY);
    await sweep();
    expect(await repo(SmsOutboxEntity).countBy({ id: row.id })).toBe(1);
    t.clock.advance(23 * DAY);
    await sweep();
    expect(await repo(SmsOutboxEntity).countBy({ id: row.id })).toBe(0);
  });
});
