import { createClient } from '@connectrpc/connect';
import { randomBytes } from 'node:crypto';
import { EventEntity } from '../src/common/events/event.entity';
import { webhookReceiptKey, webhookReceiptSignature } from '../src/phone/sms/webhook-receipts';
import { Database } from '../src/database/sql';
import { WebhookOutboxEntity } from '../src/phone/webhooks/webhook-outbox.entity';
import { WebhookOutboxRepository } from '../src/phone/webhooks/webhook-outbox.repository';
import { checkWebhookSignature } from '../src/phone/webhooks/webhook-signature';
import { WebhookWorker } from '../src/phone/webhooks/webhook.worker';
import { startReceiver, type PhoneEvent, type Receiver } from '../examples/webhook-receiver';
import { createHuman, randomMobile } from './support/factories';
import { FakeHttpServer, type Received } from './support/fake-http';
import { outboxIdle, phoneApi, wrongCodeFor } from './support/phone-api';
import { scrape, valueOf } from './support/prometheus';
import { bearer, DATABASES, dataSourceOf, freePort, startApp, type TestApp } from './support/test-app';
import {
  closeGrpcClients,
  connectTransport,
  grpcClients,
  grpcMetadata,
  serviceSchema,
  type GrpcClients,
} from './support/transports';
import { until } from './support/wait';

jest.setTimeout(30_000);

const SMS_KEY = randomBytes(32).toString('hex');
const ALL_SECRET = randomBytes(24).toString('hex');
const FILTERED_SECRET = randomBytes(24).toString('hex');
const FLAKY_SECRET = randomBytes(24).toString('hex');
const HOUR = 3_600_000;

/** The events a receiver got for one user, in the order they came. */
const forUser = (events: PhoneEvent[], userId: string) => events.filter((e) => e.user === userId);
const parsed = (requests: Received[], userId: string) =>
  requests.map((r) => r.json as PhoneEvent).filter((e) => e.user === userId);

describe.each(DATABASES)('event webhooks (%s)', (db) => {
  const sms = new FakeHttpServer();
  const filtered = new FakeHttpServer();
  const flaky = new FakeHttpServer();
  let all: Receiver;
  let t: TestApp;
  let grpc: GrpcClients;

  /** Every due delivery tried, and what those made due (a user's next event): until a round tries nothing. */
  async function drained(): Promise<void> {
    const worker = t.app.get(WebhookWorker);
    const attempts = async () =>
      Number(
        (
          await dataSourceOf(t)
            .getRepository(WebhookOutboxEntity)
            .createQueryBuilder('w')
            .select('SUM(w.attempts)', 'n')
            .getRawOne<{ n: string | number | null }>()
        )?.n ?? 0,
      );
    let last = -1;
    for (let i = 0; i < 20; i++) {
      worker.kick();
      await worker.idle();
      const now = await attempts();
      if (now === last) return;
      last = now;
    }
    throw new Error('the webhook outbox did not drain');
  }

  const eventIds = async (userId: string) =>
    (
      await dataSourceOf(t)
        .getRepository(EventEntity)
        .find({ where: { aggregateId: userId }, order: { sequence: 'ASC' } })
    )
      .filter((e) => e.type.startsWith('user.human.phone.') && e.type !== 'user.human.phone.changed')
      .map((e) => e.id);

  beforeAll(async () => {
    await Promise.all([sms.start(), filtered.start(), flaky.start()]);
    // the receiver's clock is the app's, which the tests move
    all = await startReceiver({ secret: ALL_SECRET, now: () => t.clock.now().getTime() });
    t = await startApp(db, {
      SMS_PROVIDER: 'webhook',
      SMS_WEBHOOK_URL: `${sms.url}/sms`,
      SMS_WEBHOOK_SIGNING_KEY: SMS_KEY,
      SMS_RECEIPTS_BASE_URL: 'https://verify.example.com',
      SMS_POLL_INTERVAL: '50ms',
      EVENT_WEBHOOKS: [
        `${all.url}|${ALL_SECRET}|*`,
        `${filtered.url}/hook|${FILTERED_SECRET}|phone.verified, phone.removed`,
        `${flaky.url}/flaky|${FLAKY_SECRET}`,
      ].join(';'),
      // a cap of one text a day for the organization: the second send is blocked (rule spend_cap)
      SMS_SPEND_MODE: 'enforce',
      SMS_PRICES: '*:*=0.10',
      SMS_SPEND_CAPS: 'org.day:0.15',
      WEBHOOK_POLL_INTERVAL: '50ms',
      WEBHOOK_RETRY_BASE: '1s',
      WEBHOOK_RETRY_MAX_DELAY: '1h',
      METRICS_PORT: String(await freePort()),
    });
    grpc = grpcClients(t);
  }, 60_000);
  afterAll(async () => {
    if (grpc) closeGrpcClients(grpc);
    await t?.close();
    await Promise.all([sms.close(), filtered.close(), flaky.close(), all?.close()]);
  }, 60_000);

  it('SetPhone, SMS sent, receipt, VerifyPhone wrong then right, RemovePhone: each receiver gets its types, signed, with the request ids', async () => {
    const phone = randomMobile();
    const { userId } = await createHuman(t);
    const auth = bearer(t.adminToken);
    await t
      .http()
      .post(`/v2/users/${userId}/phone`)
      .set(auth)
      .set('x-request-id', 'rest-set-1')
      .send({ phone })
      .expect(200);
    await outboxIdle(t);
    const [text] = await until('the SMS', () => sms.requests.filter((r) => r.json.userId === userId));
    const code = String(text.json.code);
    const raw = JSON.stringify({ id: text.json.id, status: 'delivered' });
    const at = Math.floor(t.clock.now().getTime() / 1000);
    await t
      .http()
      .post('/v2/sms/receipts/webhook')
      .set('Content-Type', 'application/json')
      .set('ZITADEL-Signature', `t=${at},v1=${webhookReceiptSignature(webhookReceiptKey(SMS_KEY), at, raw)}`)
      .send(raw)
      .expect(200);
    const verify = (id: string, verificationCode: string) =>
      t.http().post(`/v2/users/${userId}/phone/verify`).set(auth).set('x-request-id', id).send({ verificationCode });
    await verify('rest-verify-wrong', wrongCodeFor(code)).expect(400);
    await verify('rest-verify-right', code).expect(200);
    await t
      .http()
      .delete(`/v2/users/${userId}/phone`)
      .set(auth)
      .set('x-request-id', 'rest-remove')
      .send({})
      .expect(200);
    await drained();

    const received = forUser(all.events, userId);
    expect(received.map((e) => [e.type, e.correlationId])).toEqual([
      ['phone.code.requested', 'rest-set-1'],
      ['phone.code.sent', 'rest-set-1'],
      ['phone.code.delivered', 'rest-set-1'],
      ['phone.verification.failed', 'rest-verify-wrong'],
      ['phone.verified', 'rest-verify-right'],
      ['phone.removed', 'rest-remove'],
    ]);
    expect(all.rejected).toBe(0);
    expect(received.map((e) => e.id)).toEqual(await eventIds(userId));
    expect(received[0]).toEqual({
      id: expect.stringMatching(/^\d+$/),
      type: 'phone.code.requested',
      time: expect.any(String),
      org: expect.stringMatching(/^\d+$/),
      user: userId,
      channel: 'sms',
      country: 'CH',
      phoneLast2: phone.slice(-2),
      correlationId: 'rest-set-1',
      data: { codeReturned: false, expiry: expect.any(String) },
    });
    expect(received[1].data).toEqual({ provider: 'webhook', attempts: 1 });
    expect(received[3].data).toEqual({ reason: 'wrong_code' });

    // only the types it asked for, signed with its own secret
    const hooks = filtered.requests.filter((r) => r.json.user === userId);
    expect(hooks.map((r) => [r.path, r.json.type])).toEqual([
      ['/hook', 'phone.verified'],
      ['/hook', 'phone.removed'],
    ]);
    const now = Math.floor(t.clock.now().getTime() / 1000);
    for (const hook of hooks) {
      const header = String(hook.headers['zitadel-signature']);
      expect(checkWebhookSignature(FILTERED_SECRET, header, hook.raw, now)).toEqual({
        ok: true,
        timestamp: expect.any(Number),
      });
      expect(checkWebhookSignature(ALL_SECRET, header, hook.raw, now)).toEqual({ ok: false, reason: 'mismatch' });
    }

    // never the code, never the number (the digits after the country code included)
    const bodies = [...flaky.requests, ...filtered.requests].filter((r) => r.json.user === userId).map((r) => r.raw);
    for (const body of [...bodies, ...received.map((e) => JSON.stringify(e))]) {
      expect(body).not.toContain(phone.slice(1));
      expect(body).not.toContain(phone.slice(4));
      expect(body).not.toContain(`"${code}"`);
      expect(body).not.toContain(`:${code}`);
    }
  });

  it('takes the correlation id from the metadata on gRPC and Connect', async () => {
    const { userId } = await createHuman(t);
    const metadata = grpcMetadata(t.adminToken);
    metadata.set('x-request-id', 'grpc-set');
    const set = await new Promise<{ verificationCode: string }>((resolve, reject) =>
      grpc.UserService.SetPhone(
        { userId, phone: randomMobile(), returnCode: {} },
        metadata,
        (error: Error | null, r: any) => (error ? reject(error) : resolve(r)),
      ),
    );
    const connect = createClient(serviceSchema('UserService'), connectTransport(t)) as any;
    const headers = { authorization: `Bearer ${t.adminToken}`, 'x-request-id': 'connect-verify' };
    await connect.verifyPhone({ userId, verificationCode: set.verificationCode }, { headers });
    await connect.removePhone({ userId }, { headers: { ...headers, 'x-request-id': 'connect-remove' } });
    await drained();
    expect(forUser(all.events, userId).map((e) => [e.type, e.correlationId, e.data])).toEqual([
      ['phone.code.requested', 'grpc-set', { codeReturned: true, expiry: expect.any(String) }],
      ['phone.verified', 'connect-verify', {}],
      ['phone.removed', 'connect-remove', {}],
    ]);
  });

  it('a blocked send is phone.code.blocked with the rule of whatever blocked it, and the request id', async () => {
    const auth = bearer(t.adminToken);
    let blocked: { userId: string } | undefined;
    // the organization's first text of the day (this test alone, or the first test's) is admitted
    for (let i = 0; i < 2 && !blocked; i++) {
      const { userId } = await createHuman(t);
      const res = await t
        .http()
        .post(`/v2/users/${userId}/phone`)
        .set(auth)
        .set('x-request-id', `rest-blocked-${i}`)
        .send({ phone: randomMobile() });
      await outboxIdle(t);
      if (res.status === 429) blocked = { userId };
      else expect(res.status).toBe(200);
    }
    expect(blocked).toBeDefined();
    await drained();
    const [event] = forUser(all.events, blocked!.userId);
    expect(event).toMatchObject({
      type: 'phone.code.blocked',
      country: 'CH',
      correlationId: expect.stringMatching(/^rest-blocked-\d$/),
      data: { rule: 'spend_cap' },
    });
    expect(forUser(all.events, blocked!.userId)).toHaveLength(1);
  });

  it('a receiver that answers 500 and then comes back gets every event, in order, with the same ids; one down for a day is given up, counted and logged', async () => {
    const before = await scrape(t);
    flaky.handler = () => ({ status: 500 });
    const { userId, phoneCode } = await createHuman(t, { phone: randomMobile(), phoneMode: 'returnCode' });
    const api = phoneApi(t);
    await api.verify(userId, phoneCode).expect(200);
    await api.remove(userId).expect(200);
    await drained();
    // down: the first event is tried again and again; the later ones wait behind it
    for (let i = 0; i < 3; i++) {
      t.clock.advance(HOUR);
      await drained();
    }
    const whileDown = parsed(flaky.requests, userId);
    expect(whileDown.length).toBeGreaterThanOrEqual(4);
    expect(new Set(whileDown.map((e) => e.type))).toEqual(new Set(['phone.code.requested']));
    expect(new Set(whileDown.map((e) => e.id)).size).toBe(1);

    flaky.handler = () => ({ status: 200 });
    t.clock.advance(HOUR);
    await drained();
    const answered = flaky.requests
      .filter((r) => r.json.user === userId && r.answered === 200)
      .map((r) => r.json as PhoneEvent);
    expect(answered.map((e) => e.type)).toEqual(['phone.code.requested', 'phone.verified', 'phone.removed']);
    expect(answered.map((e) => e.id)).toEqual(forUser(all.events, userId).map((e) => e.id));
    expect(answered.map((e) => e.id)).toEqual(await eventIds(userId));
    for (const request of flaky.requests.filter((r) => r.json.user === userId)) {
      const at = Number(/^t=(\d+),/.exec(String(request.headers['zitadel-signature']))?.[1]);
      expect(
        checkWebhookSignature(FLAKY_SECRET, String(request.headers['zitadel-signature']), request.raw, at).ok,
      ).toBe(true);
    }

    // down for longer than WEBHOOK_MAX_AGE (a day): given up, then the user's next event goes
    flaky.handler = () => ({ status: 503 });
    const other = await createHuman(t, { phone: randomMobile(), phoneMode: 'returnCode' });
    await drained();
    for (let i = 0; i < 5; i++) {
      t.clock.advance(6 * HOUR);
      await drained();
    }
    const row = await dataSourceOf(t)
      .getRepository(WebhookOutboxEntity)
      .findOneByOrFail({ userId: other.userId, endpoint: `${flaky.url}/flaky` });
    expect(row).toMatchObject({ status: 'failed', lastError: 'HTTP 503' });
    const after = await scrape(t);
    const counted = (outcome: string) =>
      valueOf(after, 'pv_webhook_deliveries_total', { endpoint: new URL(flaky.url).host, outcome }) -
      valueOf(before, 'pv_webhook_deliveries_total', { endpoint: new URL(flaky.url).host, outcome });
    expect(counted('given_up')).toBe(1);
    expect(counted('delivered')).toBe(3);
    expect(counted('retry')).toBeGreaterThanOrEqual(4);
    const given = t.logs.filter((line) => line.includes('event webhook given up'));
    expect(given).toHaveLength(1);
    expect(given[0]).toContain(row.eventId);
    expect(t.logs.join('\n')).not.toContain(FLAKY_SECRET);
    expect(valueOf(after, 'pv_webhook_outbox_depth')).toBe(0);
  });

  // last: it stops the worker
  it('claims from two instances at once never take the same row, nor two rows of one user and endpoint', async () => {
    await t.app.get(WebhookWorker).onModuleDestroy();
    const users: string[] = [];
    for (let i = 0; i < 3; i++) {
      const { userId, phoneCode } = await createHuman(t, { phone: randomMobile(), phoneMode: 'returnCode' });
      await phoneApi(t).verify(userId, phoneCode).expect(200);
      users.push(userId);
    }
    const db = t.app.get(Database);
    const outbox = t.app.get(WebhookOutboxRepository);
    const claim = () => db.transaction((tx) => outbox.claimDue(tx, t.clock.now(), 60_000, 100));
    const [a, b] = await Promise.all([claim(), claim()]);
    const claimed = [...a, ...b].filter((row) => users.includes(row.userId));
    expect(new Set(claimed.map((row) => row.id)).size).toBe(claimed.length);
    // per user: all three endpoints' first row (phone.code.requested), the filtered one's only (phone.verified)
    const keys = claimed.map((row) => `${row.userId} ${row.endpoint}`);
    expect(new Set(keys).size).toBe(keys.length);
    expect(claimed).toHaveLength(9);
    for (const row of claimed) {
      expect(row.eventType).toBe(row.endpoint.endsWith('/hook') ? 'phone.verified' : 'phone.code.requested');
    }
  });
});

describe('EVENT_WEBHOOKS at start', () => {
  it('refuses bad entries with one line that names each and never the secret', async () => {
    const secret = 'x'.repeat(30);
    const start = startApp('sqlite', {
      EVENT_WEBHOOKS: `ftp://a.example/hook|${secret}|*;https://b.example/hook|short|*;https://c.example|${secret}|phone.nope`,
    });
    const error = (await start.then(
      () => undefined,
      (e: unknown) => e,
    )) as Error;
    expect(error.message).toContain('EVENT_WEBHOOKS: entry 1: the URL must be http(s), without credentials');
    expect(error.message).toContain('EVENT_WEBHOOKS: entry 2: the secret must have at least 24 characters');
    expect(error.message).toContain('EVENT_WEBHOOKS: entry 3: unknown event type "phone.nope"');
    expect(error.message).not.toContain(secret);
  });
});
