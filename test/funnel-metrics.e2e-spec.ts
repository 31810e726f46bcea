import { randomInt } from 'node:crypto';
import { Histogram } from 'prom-client';
import { Metrics } from '../src/common/metrics/metrics';
import { SmsOutboxEntity } from '../src/phone/outbox/sms-outbox.entity';
import { SmsOutboxRepository } from '../src/phone/outbox/sms-outbox.repository';
import { deferred, FakeHttpServer, Received, Reply } from './support/fake-http';
import { until } from './support/wait';
import { createHuman, randomMobile } from './support/factories';
import { wrongCodeFor } from './support/phone-api';
import { appOnOwnPostgres } from './support/own-servers';
import { bearer, DATABASES, dataSourceOf, startApp, TestApp } from './support/test-app';

jest.setTimeout(30_000);

const MINUTE = 60_000;

/**
 * SMS through a local webhook, retries on the service's clock (SMS_RETRY_BASE = 1 min, at most 2
 * attempts), 2 guesses per code, 3 failed checks per user per day, a 60 s resend cooldown, SMS
 * only to Switzerland, and a throttle of 3 requests per client address. Every request but the
 * throttled ones comes from an address of its own (X-Forwarded-For from a trusted proxy), so the
 * throttle refuses exactly the calls the test means it to.
 */
const ENV = {
  SMS_PROVIDER: 'webhook',
  SMS_WEBHOOK_TIMEOUT: '1s',
  SMS_POLL_INTERVAL: '50ms',
  SMS_RETRY_BASE: '1m',
  SMS_RETRY_MAX_DELAY: '5m',
  SMS_MAX_ATTEMPTS: '2',
  SMS_RESEND_COOLDOWN: '60s',
  SMS_ALLOWED_COUNTRIES: 'CH',
  PHONE_CODE_ALPHABET: 'alphanumeric',
  PHONE_CODE_LENGTH: '8',
  PHONE_CODE_MAX_ATTEMPTS: '2',
  PHONE_MAX_FAILED_PER_DAY: '3',
  THROTTLE_LIMIT: '3',
  THROTTLE_WINDOW: '60s',
  TRUSTED_PROXIES: '127.0.0.1',
};

/** A metric's samples as { "label=value,…": number }; for a histogram, its `_count` samples. */
async function samples(t: TestApp, name: string): Promise<Record<string, number>> {
  const metric = t.app.get(Metrics).registry.getSingleMetric(name);
  if (!metric) throw new Error(`no metric ${name}`);
  const { values } = (await metric.get()) as { values: Array<{ value: number; labels: object; metricName?: string }> };
  const wanted = metric instanceof Histogram ? `${name}_count` : undefined;
  const out: Record<string, number> = {};
  for (const sample of values.filter((v) => v.metricName === wanted)) {
    const key = Object.entries(sample.labels)
      .sort(([a], [b]) => a.localeCompare(b))
      .map(([label, value]) => `${label}=${value}`)
      .join(',');
    out[key] = sample.value;
  }
  return out;
}

/** Every label value of every series of the app's registry. */
/** The label values of the service's own series (the process defaults label by handle type etc.). */
async function labelValues(t: TestApp): Promise<string[]> {
  const metrics = await t.app.get(Metrics).registry.getMetricsAsJSON();
  return metrics
    .filter((m) => m.name.startsWith('pv_'))
    .flatMap((m) => m.values.flatMap((v) => Object.values(v.labels).map(String)));
}

async function outboxRow(t: TestApp, userId: string): Promise<SmsOutboxEntity | null> {
  return dataSourceOf(t).getRepository(SmsOutboxEntity).findOne({ where: { userId } });
}

async function settled(t: TestApp, userId: string, status: 'delivered' | 'failed'): Promise<void> {
  await until(`the SMS of ${userId} to be ${status}`, async () => (await outboxRow(t, userId))?.status === status);
}

describe.each(DATABASES)('Verification funnel and delivery series after a full flow (%s)', (db) => {
  const webhook = new FakeHttpServer();
  /** how the webhook answers each user's SMS; 200 for anyone else */
  const replies = new Map<string, (r: Received) => Reply | Promise<Reply>>();
  let t: TestApp;
  let orgId: string;
  let client = 0;
  const users: string[] = [];
  const phones: string[] = [];

  /** A request as the instance admin from a client address of its own (or `from`). */
  const call = (method: 'get' | 'post', path: string, body?: object, from?: string) => {
    client++;
    const address = from ?? `10.${(client >> 16) & 255}.${(client >> 8) & 255}.${client & 255}`;
    const req = t.http()[method](path).set(bearer(t.adminToken)).set('X-Forwarded-For', address);
    return body ? req.send(body) : req;
  };
  const human = async (phone?: { phone: string; returnCode: object }) => {
    const res = await call('post', '/v2/users/human', {
      organization: { orgId },
      profile: { givenName: 'Minnie', familyName: 'Mouse' },
      email: { email: `minnie.${randomInt(1e9)}@example.com`, isVerified: true },
      ...(phone ? { phone } : {}),
    }).expect(200);
    users.push(res.body.userId as string);
    if (phone) phones.push(phone.phone);
    return { userId: res.body.userId as string, code: res.body.phoneCode as string | undefined };
  };
  const setPhone = (userId: string, phone: string) => {
    phones.push(phone);
    return call('post', `/v2/users/${userId}/phone`, { phone });
  };
  const verify = (userId: string, code: string) =>
    call('post', `/v2/users/${userId}/phone/verify`, { verificationCode: code });
  const smsTo = async (userId: string, nth = 1) =>
    (
      await until(`SMS ${nth} of ${userId}`, () => {
        const sent = webhook.requests.filter((r) => r.json.userId === userId);
        return sent.length >= nth ? sent : undefined;
      })
    )[nth - 1];

  beforeAll(async () => {
    await webhook.start();
    webhook.handler = (r) => replies.get(r.json.userId as string)?.(r) ?? { status: 200 };
    t = await startApp(db, { ...ENV, SMS_WEBHOOK_URL: `${webhook.url}/sms` });
    const org = await call('post', '/v2/organizations', { name: `Funnel ${randomInt(1e9)}` }).expect(200);
    orgId = org.body.organizationId as string;
  }, 60_000);
  afterAll(async () => {
    await t?.close();
    await webhook.close();
  }, 60_000);

  it('counts every step of the funnel exactly, with bounded labels only', async () => {
    // before anything: the fixed label sets are there, at 0
    expect(await samples(t, 'pv_phone_verifications_total')).toEqual({
      'outcome=ok': 0,
      'outcome=wrong': 0,
      'outcome=expired': 0,
      'outcome=none_pending': 0,
      'outcome=exhausted': 0,
      'outcome=limited': 0,
    });
    expect(await samples(t, 'pv_sms_sent_total')).toEqual({ 'provider=webhook': 0 });

    // A: SetPhone by SMS → delivered → a wrong guess → the right code → a check with none pending
    const a = await human();
    await setPhone(a.userId, randomMobile()).expect(200);
    const codeA = (await smsTo(a.userId)).json.code as string;
    await settled(t, a.userId, 'delivered');
    await verify(a.userId, wrongCodeFor(codeA)).expect(400);
    await verify(a.userId, codeA).expect(200);
    await verify(a.userId, codeA).expect(400);

    // B: a new user with a returned code (counted after the user's transaction commits)
    const b = await human({ phone: randomMobile(), returnCode: {} });
    expect(b.code).toMatch(/^[A-Z0-9]{8}$/);

    // C: delivered, then a resend inside the cooldown is refused
    const c = await human();
    await setPhone(c.userId, randomMobile()).expect(200);
    await settled(t, c.userId, 'delivered');
    const cooled = await call('post', `/v2/users/${c.userId}/phone/resend`, {});
    expect(cooled.status).toBe(429);
    expect(cooled.body.details[1].metadata.limit).toBe('sms_resend_cooldown');

    // an SMS to a country SMS_ALLOWED_COUNTRIES leaves out is refused, and queues nothing
    const german = await human();
    await setPhone(german.userId, '+4915123456789').expect(400);

    // D: the provider refuses the message for good (400): given up at once
    const d = await human();
    replies.set(d.userId, () => ({ status: 400 }));
    await setPhone(d.userId, randomMobile()).expect(200);
    await settled(t, d.userId, 'failed');

    // F: two wrong guesses kill the code, a third is refused as exhausted, a fourth by the daily limit
    const f = await human({ phone: randomMobile(), returnCode: {} });
    await verify(f.userId, wrongCodeFor(f.code!)).expect(400);
    await verify(f.userId, wrongCodeFor(f.code!)).expect(400);
    await verify(f.userId, f.code!).expect(429);
    const limited = await verify(f.userId, f.code!);
    expect(limited.status).toBe(429);
    expect(limited.body.details[1].metadata.limit).toBe('failed_checks_per_day');

    // the throttle: the 4th request from one client address within the window
    const from = '203.0.113.7';
    for (let i = 0; i < 3; i++) await call('get', `/v2/users/${a.userId}`, undefined, from).expect(200);
    await call('get', `/v2/users/${a.userId}`, undefined, from).expect(429);

    // E: the provider is unavailable (503): retried once, then given up
    const e = await human();
    replies.set(e.userId, () => ({ status: 503 }));
    await setPhone(e.userId, randomMobile()).expect(200);
    const waiting = await until('the retry of E to be scheduled', async () => {
      const row = await outboxRow(t, e.userId);
      return row?.status === 'pending' && row.attempts === 1 && row.lockedUntil === null && row.lastError
        ? row
        : undefined;
    });
    // waiting for its retry: in the outbox, not due yet
    expect(await samples(t, 'pv_sms_outbox_depth')).toEqual({ '': 1 });
    expect(await samples(t, 'pv_sms_outbox_oldest_due_age_seconds')).toEqual({ '': 0 });

    // due for 30 s (on the service's clock) and in flight: the age is measured from when it was due
    const held = deferred<Reply>();
    replies.set(e.userId, () => held.promise);
    t.clock.advance(waiting.nextAttemptAt.getTime() - t.clock.now().getTime() + 30_000);
    await smsTo(e.userId, 2);
    const before = t.clock.now().getTime() - waiting.nextAttemptAt.getTime();
    const age = (await samples(t, 'pv_sms_outbox_oldest_due_age_seconds'))[''];
    const after = t.clock.now().getTime() - waiting.nextAttemptAt.getTime();
    expect(age).toBeGreaterThanOrEqual(before / 1000);
    expect(age).toBeLessThanOrEqual(after / 1000);
    expect(await samples(t, 'pv_sms_outbox_depth')).toEqual({ '': 1 });
    held.resolve({ status: 503 });
    await settled(t, e.userId, 'failed');

    // B's code has expired by now
    t.clock.advance(11 * MINUTE);
    await verify(b.userId, b.code!).expect(400);

    expect(await samples(t, 'pv_phone_codes_issued_total')).toEqual({ 'channel=sms': 4, 'channel=returned': 2 });
    expect(await samples(t, 'pv_sms_queued_total')).toEqual({ '': 4 });
    expect(await samples(t, 'pv_sms_sent_total')).toEqual({ 'provider=webhook': 2 });
    expect(await samples(t, 'pv_sms_failed_total')).toEqual({
      'provider=webhook,reason=rejected': 1,
      'provider=webhook,reason=unavailable': 1,
    });
    expect(await samples(t, 'pv_sms_outbox_attempts_total')).toEqual({
      'provider=webhook,result=sent': 2,
      'provider=webhook,result=retry': 1,
      'provider=webhook,result=failed': 2,
    });
    expect(await samples(t, 'pv_sms_provider_request_duration_seconds')).toEqual({
      'provider=webhook,result=ok': 2,
      'provider=webhook,result=error': 3,
    });
    expect(await samples(t, 'pv_sms_provider_errors_total')).toEqual({
      'code=http_4xx,provider=webhook': 1,
      'code=http_5xx,provider=webhook': 2,
    });
    expect(await samples(t, 'pv_phone_verifications_total')).toEqual({
      'outcome=ok': 1,
      'outcome=wrong': 3,
      'outcome=expired': 1,
      'outcome=none_pending': 1,
      'outcome=exhausted': 1,
      'outcome=limited': 1,
    });
    expect(await samples(t, 'pv_limit_refusals_total')).toEqual({
      'limit=sms_per_user_per_hour': 0,
      'limit=sms_per_number_per_day': 0,
      'limit=sms_number_ceiling_per_day': 0,
      'limit=sms_resend_cooldown': 1,
      'limit=sms_backoff': 0,
      'limit=failed_checks_per_day': 1,
      'limit=sms_number_type': 0,
      'limit=sms_country': 1,
      'limit=throttle': 1,
    });
    expect(await samples(t, 'pv_sms_outbox_depth')).toEqual({ '': 0 });
    expect(await samples(t, 'pv_sms_outbox_oldest_due_age_seconds')).toEqual({ '': 0 });

    // one scrape reads the outbox once, for both gauges
    const backlog = jest.spyOn(t.app.get(SmsOutboxRepository), 'backlog');
    try {
      await t.app.get(Metrics).registry.metrics();
      expect(backlog).toHaveBeenCalledTimes(1);
    } finally {
      backlog.mockRestore();
    }

    // no label value names a user, an organization or a number
    const values = await labelValues(t);
    expect(values.length).toBeGreaterThan(20);
    // snake_case words, gRPC status names, RPC names (Service/Method), the request series' route
    // templates outside the API (GET /livez), bucket bounds, the default SMS route (*)
    const bounded = /^([a-z0-9_,]{1,40}|[A-Z_]{2,20}|[A-Za-z.]+\/[A-Za-z]+|[A-Z]+ \/[a-z/_-]*|[0-9.]+|\+Inf|\*)$/;
    for (const value of values) expect(value).toMatch(bounded);
    const secrets = [...users, orgId, ...phones.flatMap((p) => [p, p.slice(-7)])];
    for (const secret of secrets) expect(values.filter((value) => value.includes(secret))).toEqual([]);
  });
});

describe('The outbox gauges while PostgreSQL is stopped (a cluster of its own)', () => {
  let own: Awaited<ReturnType<typeof appOnOwnPostgres>> | undefined;

  beforeAll(async () => {
    own = await appOnOwnPostgres(startApp, 'pv');
  }, 120_000);
  afterAll(() => own?.close(), 60_000);

  it('answers the scrape with NaN, logs the outage once, reads the outbox again once it is back; what was rolled back counts nothing', async () => {
    const t = own!.app;
    const registry = t.app.get(Metrics).registry;
    const { userId, phoneCode } = await createHuman(t, { phone: randomMobile(), phoneMode: 'returnCode' });
    const verify = () =>
      t.http().post(`/v2/users/${userId}/phone/verify`).set(bearer(t.adminToken)).send({ verificationCode: phoneCode });
    expect(await samples(t, 'pv_sms_outbox_depth')).toEqual({ '': 0 });
    const from = t.logs.length;
    own!.pg.stop();
    // a check and a new code that the outage rolled back are no outcome and no code
    await verify().expect(503);
    await t
      .http()
      .post(`/v2/users/${userId}/phone`)
      .set(bearer(t.adminToken))
      .send({ phone: randomMobile() })
      .expect(503);
    for (let scrape = 0; scrape < 3; scrape++) {
      const text = await registry.metrics();
      expect(text).toMatch(/^pv_sms_outbox_depth Nan$/m);
      expect(text).toMatch(/^pv_sms_outbox_oldest_due_age_seconds Nan$/m);
      // the other series are still there
      expect(text).toMatch(/^pv_limit_refusals_total\{limit="throttle"\} 0$/m);
    }
    const logged = t.logs.slice(from);
    expect(logged.filter((line) => line.includes('database unavailable'))).toHaveLength(1);
    expect(logged.filter((line) => line.includes('SMS outbox gauges could not be read'))).toEqual([]);

    await own!.pg.resume();
    await until(
      'the outbox gauges to read the database again',
      async () => {
        const depth = await samples(t, 'pv_sms_outbox_depth');
        return depth[''] === 0;
      },
      30_000,
    );
    expect(await samples(t, 'pv_sms_outbox_oldest_due_age_seconds')).toEqual({ '': 0 });
    expect(await samples(t, 'pv_phone_codes_issued_total')).toEqual({ 'channel=sms': 0, 'channel=returned': 1 });
    expect(await samples(t, 'pv_sms_queued_total')).toEqual({ '': 0 });
    expect((await samples(t, 'pv_phone_verifications_total'))['outcome=ok']).toBe(0);
    await verify().expect(200);
    expect(await samples(t, 'pv_phone_verifications_total')).toEqual({
      'outcome=ok': 1,
      'outcome=wrong': 0,
      'outcome=expired': 0,
      'outcome=none_pending': 0,
      'outcome=exhausted': 0,
      'outcome=limited': 0,
    });
  }, 60_000);
});
