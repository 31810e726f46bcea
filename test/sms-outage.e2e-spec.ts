import { randomBytes } from 'node:crypto';
import { eventTypesOf } from './support/events';
import { createHuman, createOrg, randomMobile } from './support/factories';
import { deferred, FakeHttpServer, Reply } from './support/fake-http';
import { sleep, until } from './support/wait';
import { bearer, DATABASES, startApp, TestApp } from './support/test-app';
import { outboxOf } from './support/outbox';

jest.setTimeout(60_000);

const ok: Reply = { status: 200 };
const fail: Reply = { status: 500, body: '{"error":"down"}' };

function webhookEnv(url: string, extra: Record<string, string> = {}): Record<string, string> {
  return {
    SMS_PROVIDER: 'webhook',
    SMS_WEBHOOK_URL: url,
    SMS_WEBHOOK_SIGNING_KEY: randomBytes(32).toString('hex'),
    SMS_POLL_INTERVAL: '50ms',
    ...extra,
  };
}

async function usersWithSms(t: TestApp, orgId: string, count: number, phone = randomMobile): Promise<string[]> {
  const users: string[] = [];
  for (let i = 0; i < count; i++) {
    users.push((await createHuman(t, { orgId, phone: phone(), phoneMode: 'sendCode' })).userId);
  }
  return users;
}

describe.each(DATABASES)('SMS delivery through a receiver outage (%s)', (db) => {
  const webhook = new FakeHttpServer();
  let t: TestApp;
  let orgId: string;

  beforeAll(async () => {
    await webhook.start();
    // the defaults of the retry schedule: SMS_RETRY_BASE 2s, SMS_RETRY_MAX_DELAY 1m, SMS_MAX_AGE 10m
    t = await startApp(db, webhookEnv(`${webhook.url}/sms`));
    orgId = await createOrg(t);
  }, 60_000);
  afterAll(async () => {
    await t?.close();
    await webhook.close();
  });

  it('delivers every message exactly once after the receiver answered 500 for 5 of their 10 minutes', async () => {
    // the outage is on the service's clock, which the test moves from one due attempt to the next
    const outageEnds = t.clock.now().getTime() + 5 * 60_000;
    webhook.handler = () => (t.clock.now().getTime() < outageEnds ? fail : ok);
    const users = await usersWithSms(t, orgId, 6);

    for (let step = 0; step < 1_000; step++) {
      const rows = await until(
        'no attempt under way and none due',
        async () => {
          const all = await outboxOf(t, users);
          const now = t.clock.now().getTime();
          const pending = all.filter((r) => r.status === 'pending');
          const settled = pending.every((r) => r.lockedUntil === null && r.nextAttemptAt.getTime() > now);
          return all.length === users.length && settled ? all : undefined;
        },
        10_000,
      );
      const pending = rows.filter((r) => r.status === 'pending');
      if (pending.length === 0) break;
      const due = Math.min(...pending.map((r) => r.nextAttemptAt.getTime()));
      t.clock.advance(due - t.clock.now().getTime() + 1);
    }

    const rows = await outboxOf(t, users);
    expect(rows.map((r) => r.status)).toEqual(users.map(() => 'delivered'));
    // far more attempts than the old schedule's 5, which gave up within its first ~30 s
    expect(Math.min(...rows.map((r) => r.attempts))).toBeGreaterThan(5);
    for (const row of rows) {
      const requests = webhook.requests.filter((r) => r.json.id === row.id);
      expect(requests.map((r) => r.answered)).toEqual([...Array(row.attempts - 1).fill(500), 200]);
      expect(new Set(requests.map((r) => r.json.code)).size).toBe(1);
      expect(await eventTypesOf(t, row.userId, 'user.human.phone.code.')).toEqual([
        'user.human.phone.code.added',
        'user.human.phone.code.sent',
      ]);
      // it arrived while the code still works
      await t
        .http()
        .post(`/v2/users/${row.userId}/phone/verify`)
        .set(bearer(t.adminToken))
        .send({ verificationCode: requests[0].json.code })
        .expect(200);
    }
  });
});

describe.each(DATABASES)('a slow SMS send holds up no other (%s)', (db) => {
  const webhook = new FakeHttpServer();
  const apps: TestApp[] = [];
  beforeAll(() => webhook.start());
  afterAll(async () => {
    for (const app of apps) await app.close().catch(() => undefined);
    await webhook.close();
  });

  it('delivers the other messages while one receiver request is stalled', async () => {
    // the stalled request could only end by the provider's timeout, far beyond what the test waits
    const t = await startApp(db, webhookEnv(`${webhook.url}/sms`, { SMS_WEBHOOK_TIMEOUT: '30s' }));
    apps.push(t);
    const orgId = await createOrg(t);
    const stalledNumber = randomMobile();
    const held = deferred<Reply>();
    webhook.handler = (r) => (r.json.to === stalledNumber ? held.promise : ok);
    const [stalled] = await usersWithSms(t, orgId, 1, () => stalledNumber);
    await until('the stalled request', () => webhook.requests.some((r) => r.json.userId === stalled));

    const others = await usersWithSms(t, orgId, 5);
    const delivered = await until(
      'the other messages',
      async () => {
        const rows = await outboxOf(t, others);
        return rows.length === 5 && rows.every((r) => r.status === 'delivered') ? rows : undefined;
      },
      10_000,
    );
    const [inFlight] = await outboxOf(t, [stalled]);
    expect(inFlight).toMatchObject({ status: 'pending', attempts: 1 });
    expect(inFlight.lockedUntil).not.toBeNull();
    expect(webhook.requests.find((r) => r.json.userId === stalled)!.answered).toBeUndefined();

    held.resolve(ok);
    await until('the stalled message', async () => (await outboxOf(t, [stalled]))[0].status === 'delivered');
    for (const row of [...delivered, inFlight]) {
      expect(webhook.requests.filter((r) => r.json.id === row.id)).toHaveLength(1);
    }
  });

  it('sends at most SMS_SEND_CONCURRENCY messages at once, and the rest as slots free up', async () => {
    const t = await startApp(db, webhookEnv(`${webhook.url}/bounded`, { SMS_SEND_CONCURRENCY: '2' }));
    apps.push(t);
    const orgId = await createOrg(t);
    const holds: Array<(reply: Reply) => void> = [];
    webhook.handler = (r) => {
      if (!r.path.startsWith('/bounded')) return ok;
      const hold = deferred<Reply>();
      holds.push(hold.resolve);
      return hold.promise;
    };
    const users = await usersWithSms(t, orgId, 4);
    const bounded = () => webhook.requests.filter((r) => r.path === '/bounded');
    await until('two requests in flight', () => holds.length === 2);
    await sleep(300);
    expect(bounded()).toHaveLength(2);

    // one slot frees up: exactly one more goes out
    holds[0](ok);
    await until('a third request', () => holds.length === 3);
    await sleep(300);
    expect(bounded()).toHaveLength(3);
    for (let i = 1; i < 4; i++) {
      await until(`request ${i + 1}`, () => holds.length > i);
      holds[i](ok);
    }
    const rows = await until('all delivered', async () => {
      const all = await outboxOf(t, users);
      return all.length === 4 && all.every((r) => r.status === 'delivered') ? all : undefined;
    });
    expect(new Set(bounded().map((r) => r.json.id))).toEqual(new Set(rows.map((r) => r.id)));
    expect(bounded()).toHaveLength(4);
  });
});
