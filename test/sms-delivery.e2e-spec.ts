import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EventEntity } from '../src/common/events/event.entity';
import { IdGenerator } from '../src/common/ids/id-generator';
import { NodeLeaseEntity } from '../src/common/ids/node-lease.entity';
import { OutboxCipher } from '../src/phone/outbox/outbox-cipher';
import { SmsOutboxEntity } from '../src/phone/outbox/sms-outbox.entity';
import { SmsOutboxWorker } from '../src/phone/outbox/sms-outbox.worker';
import { eventsOf, eventTypesOf } from './support/events';
import { createHuman, createOrg, randomMobile } from './support/factories';
import { deferred, FakeHttpServer, Reply } from './support/fake-http';
import { sleep, until } from './support/wait';
import {
  bearer,
  createPgSchema,
  DATABASES,
  dataSourceOf,
  Db,
  dropPgSchema,
  startApp,
  TestApp,
} from './support/test-app';
import { outboxOf } from './support/outbox';

jest.setTimeout(30_000);

const SIGNING_KEY = randomBytes(32).toString('hex');
const TWILIO_SID = `AC${randomBytes(16).toString('hex')}`;
const TWILIO_TOKEN = randomBytes(16).toString('hex');
const TWILIO_FROM = '+15005550006';
const RETRY_BASE = 60_000;
const WEBOTP_DOMAIN = 'verify.example.com';
const TEMPLATES = JSON.stringify({ fr: 'Votre code: {{code}}' });

/**
 * Retries are scheduled on the service's clock with SMS_RETRY_BASE = 1 min (pauses up to 5 min,
 * at most 4 attempts), so a test decides when the next attempt happens (by moving the clock) and
 * can check the back-off exactly. Codes are 8 upper-case alphanumerics, so a search for one in
 * logs and rows cannot hit an id by chance.
 */
function webhookEnv(url: string): Record<string, string> {
  return {
    SMS_PROVIDER: 'webhook',
    SMS_WEBHOOK_URL: url,
    SMS_WEBHOOK_SIGNING_KEY: SIGNING_KEY,
    SMS_WEBHOOK_TIMEOUT: '1s',
    SMS_POLL_INTERVAL: '50ms',
    SMS_RETRY_BASE: '1m',
    SMS_RETRY_MAX_DELAY: '5m',
    SMS_MAX_ATTEMPTS: '4',
    SMS_WEBOTP_DOMAIN: WEBOTP_DOMAIN,
    SMS_TEMPLATES: TEMPLATES,
    PHONE_CODE_ALPHABET: 'alphanumeric',
    PHONE_CODE_LENGTH: '8',
  };
}

const englishText = (code: string) =>
  `${code} is your code to verify your phone number. Do not share it with anyone.\n\n@${WEBOTP_DOMAIN} #${code}`;

const forUser = (server: FakeHttpServer, userId: string) => server.requests.filter((r) => r.json.userId === userId);

/** The user's outbox rows once none is pending any more. */
async function settled(t: TestApp, userId: string, count = 1): Promise<SmsOutboxEntity[]> {
  return until(`${count} settled outbox row(s) of ${userId}`, async () => {
    const rows = await outboxOf(t, userId);
    return rows.length === count && rows.every((row) => row.status !== 'pending') ? rows : undefined;
  });
}

/** The row after its `attempts`-th attempt failed and a retry was scheduled. */
async function retryScheduled(t: TestApp, userId: string, attempts: number): Promise<SmsOutboxEntity> {
  return until(`attempt ${attempts} of ${userId} to fail`, async () => {
    const rows = await outboxOf(t, userId);
    const row = rows[rows.length - 1];
    return row?.status === 'pending' && row.attempts === attempts && row.lockedUntil === null && row.lastError
      ? row
      : undefined;
  });
}

/** Exponential back-off with jitter: the n-th retry comes base·2^(n-1)/2 … base·2^(n-1) after the failure. */
function expectBackoff(row: SmsOutboxEntity, failedAtEarliest: number, failedAtLatest: number): void {
  const ceiling = RETRY_BASE * 2 ** (row.attempts - 1);
  expect(row.nextAttemptAt.getTime()).toBeGreaterThanOrEqual(failedAtEarliest + ceiling / 2);
  expect(row.nextAttemptAt.getTime()).toBeLessThanOrEqual(failedAtLatest + ceiling);
}

/** Moves the service's clock to the row's next attempt. */
function advanceTo(t: TestApp, row: SmsOutboxEntity): void {
  t.clock.advance(Math.max(0, row.nextAttemptAt.getTime() - t.clock.now().getTime()) + 1);
}

const phoneEventTypes = (t: TestApp, userId: string) => eventTypesOf(t, userId, 'user.human.phone.');

/** What a receiver does: recompute HMAC-SHA-256 over "<t>.<raw body>" and compare in constant time. */
function verifySignature(header: unknown, rawBody: string, key: string): number | undefined {
  const match = /^t=(\d+),v1=([0-9a-f]{64})$/.exec(typeof header === 'string' ? header : '');
  if (!match) return undefined;
  const expected = createHmac('sha256', key).update(`${match[1]}.${rawBody}`).digest();
  return timingSafeEqual(expected, Buffer.from(match[2], 'hex')) ? Number(match[1]) : undefined;
}

/** No column of any outbox row, no event and no log line holds the code in plaintext. */
async function expectNoPlaintext(t: TestApp, code: string): Promise<void> {
  const rows = await dataSourceOf(t).createQueryBuilder().select('*').from(SmsOutboxEntity, 'o').getRawMany();
  expect(rows.length).toBeGreaterThan(0);
  for (const row of rows) expect(JSON.stringify(row)).not.toContain(code);
  const events = await dataSourceOf(t).getRepository(EventEntity).find();
  for (const event of events) expect(event.payload).not.toContain(code);
  expect(t.logs.filter((line) => line.includes(code))).toEqual([]);
}

const fail = (status: number): Reply => ({ status, body: JSON.stringify({ error: 'nope' }) });
const ok: Reply = { status: 200 };

describe.each(DATABASES)('SMS delivery through the outbox to a webhook (%s)', (db) => {
  const webhook = new FakeHttpServer();
  let t: TestApp;
  let orgId: string;
  const admin = () => ({
    post: (path: string, body: object = {}) => t.http().post(path).set(bearer(t.adminToken)).send(body),
  });
  const setPhone = (userId: string, phone: string, body: object = {}) =>
    admin().post(`/v2/users/${userId}/phone`, { phone, ...body });
  const verify = (userId: string, code: string) =>
    admin().post(`/v2/users/${userId}/phone/verify`, { verificationCode: code });

  beforeAll(async () => {
    await webhook.start();
    t = await startApp(db, webhookEnv(`${webhook.url}/sms`));
    orgId = await createOrg(t);
  }, 60_000);
  afterAll(async () => {
    await t?.close();
    await webhook.close();
  }, 60_000);
  beforeEach(() => {
    webhook.handler = () => ok;
  });

  it('delivers the code of SetPhone (default = send) once: signed, to the number, in the text; it verifies', async () => {
    const { userId } = await createHuman(t, { orgId });
    const phone = randomMobile();
    const held = deferred<Reply>();
    webhook.handler = (r) => (r.json.userId === userId ? held.promise : ok);
    const clockBefore = t.clock.now().getTime();
    const set = await setPhone(userId, phone).expect(200);
    expect(set.body.verificationCode).toBeUndefined();

    const [request] = await until('the webhook request', () => forUser(webhook, userId));
    const code = request.json.code as string;
    expect(code).toMatch(/^[A-Z0-9]{8}$/);

    // in flight: the outbox holds the code only sealed, bound to its row
    const [inFlight] = await outboxOf(t, userId);
    expect(inFlight).toMatchObject({ status: 'pending', attempts: 1, recipient: phone, orgId });
    expect(inFlight.sealedCode).toMatch(/^v1\./);
    expect(inFlight.sealedCode).not.toContain(code);
    const cipher = t.app.get(OutboxCipher);
    expect(cipher.open(inFlight.id, inFlight.sealedCode!)).toBe(code);
    expect(() => cipher.open(`${inFlight.id}0`, inFlight.sealedCode!)).toThrow();
    await expectNoPlaintext(t, code);

    held.resolve(ok);
    const [row] = await settled(t, userId);
    const clockAfter = t.clock.now().getTime();
    expect(row).toMatchObject({
      id: inFlight.id,
      status: 'delivered',
      sealedCode: null,
      attempts: 1,
      provider: 'webhook',
      lastError: null,
      lockedUntil: null,
    });
    expect(row.finishedAt).toBeInstanceOf(Date);

    // exactly one POST, with the documented body and headers
    await sleep(150);
    expect(forUser(webhook, userId)).toHaveLength(1);
    expect(request.method).toBe('POST');
    expect(request.path).toBe('/sms');
    expect(request.headers['content-type']).toBe('application/json');
    expect(request.headers['idempotency-key']).toBe(row.id);
    expect(request.json).toEqual({ id: row.id, to: phone, text: englishText(code), code, userId, orgId });
    expect(Object.keys(JSON.parse(request.raw))).toEqual(['id', 'to', 'text', 'code', 'userId', 'orgId']);

    // the signature verifies over the raw body, its time is the send's, and it covers the body
    const signedAt = verifySignature(request.headers['zitadel-signature'], request.raw, SIGNING_KEY);
    expect(signedAt).toBeGreaterThanOrEqual(Math.floor(clockBefore / 1000));
    expect(signedAt).toBeLessThanOrEqual(Math.floor(clockAfter / 1000));
    expect(verifySignature(request.headers['zitadel-signature'], `${request.raw} `, SIGNING_KEY)).toBeUndefined();
    expect(verifySignature(request.headers['zitadel-signature'], request.raw, `${SIGNING_KEY}x`)).toBeUndefined();

    await verify(userId, code).expect(200);
    expect(await phoneEventTypes(t, userId)).toEqual([
      'user.human.phone.changed',
      'user.human.phone.code.added',
      'user.human.phone.code.sent',
      'user.human.phone.verified',
    ]);
    const sent = (await eventsOf(t, userId)).find((e) => e.type === 'user.human.phone.code.sent')!;
    expect({ type: sent.type, payload: sent.payload, creator: sent.creator }).toEqual({
      type: 'user.human.phone.code.sent',
      payload: { provider: 'webhook', attempts: 1, channel: 'sms' },
      creator: 'SYSTEM',
    });
    await expectNoPlaintext(t, code);
  });

  it('writes the text in the preferred language and from SMS_TEMPLATES', async () => {
    const german = await createHuman(t, {
      orgId,
      preferredLanguage: 'de',
      phone: randomMobile(),
      phoneMode: 'sendCode',
    });
    const french = await createHuman(t, {
      orgId,
      preferredLanguage: 'fr',
      phone: randomMobile(),
      phoneMode: 'sendCode',
    });
    await settled(t, german.userId);
    await settled(t, french.userId);
    const [de] = forUser(webhook, german.userId);
    const [fr] = forUser(webhook, french.userId);
    expect(de.json.text).toBe(
      `${de.json.code} ist Ihr Code zur Verifizierung Ihrer Telefonnummer. Geben Sie ihn nicht weiter.` +
        `\n\n@${WEBOTP_DOMAIN} #${de.json.code}`,
    );
    expect(fr.json.text).toBe(`Votre code: ${fr.json.code}\n\n@${WEBOTP_DOMAIN} #${fr.json.code}`);
  });

  it('retries after two 500s with exponential back-off and delivers on the third attempt', async () => {
    const { userId } = await createHuman(t, { orgId });
    let calls = 0;
    webhook.handler = (r) => (r.json.userId === userId && ++calls <= 2 ? fail(500) : ok);
    await setPhone(userId, randomMobile()).expect(200);

    for (const attempt of [1, 2]) {
      const row = await retryScheduled(t, userId, attempt);
      const failedAt = forUser(webhook, userId)[attempt - 1].receivedAt + t.clock.offsetMs;
      expect(row.lastError).toBe('webhook: HTTP 500');
      expectBackoff(row, failedAt, t.clock.now().getTime());
      // nothing happens before the back-off has passed
      await sleep(150);
      expect(forUser(webhook, userId)).toHaveLength(attempt);
      advanceTo(t, row);
    }
    const [row] = await settled(t, userId);
    expect(row).toMatchObject({ status: 'delivered', attempts: 3, sealedCode: null, lastError: null });
    const requests = forUser(webhook, userId);
    expect(requests.map((r) => r.answered)).toEqual([500, 500, 200]);
    // the same message each time: one id, one code, one idempotency key
    expect(new Set(requests.map((r) => r.headers['idempotency-key']))).toEqual(new Set([row.id]));
    expect(new Set(requests.map((r) => r.json.code)).size).toBe(1);
    const events = (await eventsOf(t, userId)).filter((e) => e.type.startsWith('user.human.phone.code.'));
    expect(events.map((e) => [e.type, e.payload])).toEqual([
      ['user.human.phone.code.added', expect.anything()],
      ['user.human.phone.code.sent', { provider: 'webhook', attempts: 3, channel: 'sms' }],
    ]);
    await verify(userId, requests[2].json.code).expect(200);
  });

  it('retries after a time-out (SMS_WEBHOOK_TIMEOUT=1s) and delivers', async () => {
    const { userId } = await createHuman(t, { orgId });
    let calls = 0;
    webhook.handler = (r) => (r.json.userId === userId && ++calls === 1 ? new Promise<Reply>(() => undefined) : ok);
    const started = Date.now();
    await setPhone(userId, randomMobile()).expect(200);
    const row = await retryScheduled(t, userId, 1);
    expect(Date.now() - started).toBeGreaterThanOrEqual(950);
    expect(row.lastError).toBe('webhook: no answer within 1000 ms');
    advanceTo(t, row);
    const [done] = await settled(t, userId);
    expect(done).toMatchObject({ status: 'delivered', attempts: 2, sealedCode: null });
    expect(forUser(webhook, userId).map((r) => r.answered)).toEqual([undefined, 200]);
    expect(await phoneEventTypes(t, userId)).toEqual([
      'user.human.phone.changed',
      'user.human.phone.code.added',
      'user.human.phone.code.sent',
    ]);
  });

  it('gives up after SMS_MAX_ATTEMPTS (4) 500s: failed, code erased, delivery.failed event', async () => {
    const { userId } = await createHuman(t, { orgId });
    webhook.handler = (r) => (r.json.userId === userId ? fail(500) : ok);
    await setPhone(userId, randomMobile()).expect(200);
    for (const attempt of [1, 2, 3]) advanceTo(t, await retryScheduled(t, userId, attempt));
    const [row] = await settled(t, userId);
    expect(row).toMatchObject({
      status: 'failed',
      attempts: 4,
      sealedCode: null,
      lockedUntil: null,
      provider: 'webhook',
      lastError: 'webhook: HTTP 500',
    });
    // no fifth attempt, however long one waits
    t.clock.advance(3_600_000);
    await sleep(150);
    const requests = forUser(webhook, userId);
    expect(requests).toHaveLength(4);
    const events = await eventsOf(t, userId);
    expect(events.filter((e) => e.type.startsWith('user.human.phone.code.')).map((e) => [e.type, e.payload])).toEqual([
      ['user.human.phone.code.added', expect.anything()],
      [
        'user.human.phone.code.delivery.failed',
        { provider: 'webhook', attempts: 4, reason: 'webhook: HTTP 500', channel: 'sms' },
      ],
    ]);
    await expectNoPlaintext(t, requests[0].json.code);
  });

  it('gives up at once on a 400 (not retryable)', async () => {
    const { userId } = await createHuman(t, { orgId });
    webhook.handler = (r) => (r.json.userId === userId ? fail(400) : ok);
    await setPhone(userId, randomMobile()).expect(200);
    const [row] = await settled(t, userId);
    expect(row).toMatchObject({ status: 'failed', attempts: 1, sealedCode: null, lastError: 'webhook: HTTP 400' });
    t.clock.advance(RETRY_BASE * 10);
    await sleep(150);
    expect(forUser(webhook, userId)).toHaveLength(1);
    const failed = (await eventsOf(t, userId)).filter((e) => e.type === 'user.human.phone.code.delivery.failed');
    expect(failed.map((e) => e.payload)).toEqual([
      { provider: 'webhook', attempts: 1, reason: 'webhook: HTTP 400', channel: 'sms' },
    ]);
  });

  describe('codes that are no longer current are not sent', () => {
    /** SetPhone whose first delivery fails with a 500; resolves with the failed request once a retry is due later. */
    async function firstAttemptFails(): Promise<{ userId: string; code: string }> {
      const { userId } = await createHuman(t, { orgId });
      webhook.handler = (r) => (r.json.userId === userId ? fail(500) : ok);
      await setPhone(userId, randomMobile()).expect(200);
      await retryScheduled(t, userId, 1);
      return { userId, code: forUser(webhook, userId)[0].json.code };
    }

    it('a resend (send) supersedes the pending message: the old one is skipped, only the new code is delivered', async () => {
      const { userId, code: oldCode } = await firstAttemptFails();
      webhook.handler = () => ok;
      await admin().post(`/v2/users/${userId}/phone/resend`).expect(200);
      const [old, current] = await settled(t, userId, 2);
      expect(old).toMatchObject({ status: 'skipped', sealedCode: null, attempts: 1 });
      expect(current).toMatchObject({ status: 'delivered', sealedCode: null, attempts: 1 });
      // the old message's retry time passes: it is not sent again
      t.clock.advance(RETRY_BASE * 2);
      await sleep(150);
      const requests = forUser(webhook, userId);
      expect(requests.map((r) => [r.json.id, r.answered])).toEqual([
        [old.id, 500],
        [current.id, 200],
      ]);
      const newCode = requests[1].json.code;
      expect(newCode).not.toBe(oldCode);
      await verify(userId, oldCode).expect(400);
      await verify(userId, newCode).expect(200);
    });

    it('a SetPhone to another number supersedes it too', async () => {
      const { userId } = await firstAttemptFails();
      webhook.handler = () => ok;
      const newNumber = randomMobile();
      await setPhone(userId, newNumber).expect(200);
      const [old, current] = await settled(t, userId, 2);
      expect(old.status).toBe('skipped');
      expect(current).toMatchObject({ status: 'delivered', recipient: newNumber });
      expect(forUser(webhook, userId).map((r) => [r.json.to, r.answered])).toEqual([
        [old.recipient, 500],
        [newNumber, 200],
      ]);
    });

    it('a message already in flight when a resend supersedes it is recorded as delivered, with its event', async () => {
      const { userId } = await createHuman(t, { orgId });
      const held = deferred<Reply>();
      webhook.handler = (r) => (r.json.userId === userId && forUser(webhook, userId).length === 1 ? held.promise : ok);
      await setPhone(userId, randomMobile()).expect(200);
      await until('the first request', () => forUser(webhook, userId).length === 1);
      await admin().post(`/v2/users/${userId}/phone/resend`).expect(200);
      held.resolve(ok);
      const [old, current] = await settled(t, userId, 2);
      expect(old).toMatchObject({ status: 'delivered', attempts: 1, sealedCode: null });
      expect(current).toMatchObject({ status: 'delivered', attempts: 1, sealedCode: null });
      const sent = (await eventsOf(t, userId)).filter((e) => e.type === 'user.human.phone.code.sent');
      expect(sent.map((e) => e.payload)).toEqual([
        { provider: 'webhook', attempts: 1, channel: 'sms' },
        { provider: 'webhook', attempts: 1, channel: 'sms' },
      ]);
      const [first, second] = forUser(webhook, userId);
      await verify(userId, first.json.code).expect(400);
      await verify(userId, second.json.code).expect(200);
    });

    it('a message in flight when it is superseded is not retried after a failure', async () => {
      const { userId } = await createHuman(t, { orgId });
      const held = deferred<Reply>();
      webhook.handler = (r) => (r.json.userId === userId && forUser(webhook, userId).length === 1 ? held.promise : ok);
      await setPhone(userId, randomMobile()).expect(200);
      await until('the first request', () => forUser(webhook, userId).length === 1);
      await admin().post(`/v2/users/${userId}/phone/resend`).expect(200);
      held.resolve(fail(500));
      const retry = await until('the old message to wait for a retry', async () => {
        const [row] = await outboxOf(t, userId);
        return row.status === 'pending' && row.lockedUntil === null && row.lastError ? row : undefined;
      });
      expect(retry).toMatchObject({ attempts: 1, lastError: 'webhook: HTTP 500' });
      advanceTo(t, retry);
      const [old, current] = await settled(t, userId, 2);
      expect(old).toMatchObject({ status: 'skipped', sealedCode: null });
      expect(current).toMatchObject({ status: 'delivered', sealedCode: null });
      expect(forUser(webhook, userId).map((r) => [r.json.id, r.answered])).toEqual([
        [old.id, 500],
        [current.id, 200],
      ]);
    });

    it('resends racing the delivery of the previous code all succeed (no deadlock with the worker)', async () => {
      const { userId } = await createHuman(t, { orgId });
      await setPhone(userId, randomMobile()).expect(200);
      const started = Date.now();
      const statuses: number[] = [];
      for (let i = 0; i < 6; i++) statuses.push((await admin().post(`/v2/users/${userId}/phone/resend`)).status);
      expect(statuses).toEqual([200, 200, 200, 200, 200, 200]);
      expect(Date.now() - started).toBeLessThan(900 * 6);
      const rows = await settled(t, userId, 7);
      expect(rows[6].status).toBe('delivered');
      const delivered = rows.filter((row) => row.status === 'delivered');
      const sent = (await eventsOf(t, userId)).filter((e) => e.type === 'user.human.phone.code.sent');
      expect(sent).toHaveLength(delivered.length);
      expect(t.logs.filter((line) => /"level":50/.test(line))).toEqual([]);
    });

    it('a code replaced by returnCode is skipped at its next attempt', async () => {
      const { userId } = await firstAttemptFails();
      const resent = await admin().post(`/v2/users/${userId}/phone/resend`, { returnCode: {} }).expect(200);
      advanceTo(t, (await outboxOf(t, userId))[0]);
      const [row] = await settled(t, userId);
      expect(row).toMatchObject({ status: 'skipped', sealedCode: null, attempts: 2 });
      expect(forUser(webhook, userId)).toHaveLength(1);
      await verify(userId, resent.body.verificationCode).expect(200);
    });

    it('a consumed code is skipped at its next attempt', async () => {
      const { userId, code } = await firstAttemptFails();
      await verify(userId, code).expect(200);
      advanceTo(t, (await outboxOf(t, userId))[0]);
      const [row] = await settled(t, userId);
      expect(row).toMatchObject({ status: 'skipped', sealedCode: null });
      expect(forUser(webhook, userId)).toHaveLength(1);
      expect(await phoneEventTypes(t, userId)).not.toContain('user.human.phone.code.sent');
    });

    it('an expired code is skipped at its next attempt', async () => {
      const { userId } = await firstAttemptFails();
      t.clock.advance(11 * 60_000); // PHONE_CODE_TTL is 10 min
      const [row] = await settled(t, userId);
      expect(row).toMatchObject({ status: 'skipped', sealedCode: null });
      expect(forUser(webhook, userId)).toHaveLength(1);
      const types = await phoneEventTypes(t, userId);
      expect(types).not.toContain('user.human.phone.code.sent');
      expect(types).not.toContain('user.human.phone.code.delivery.failed');
    });
  });
});

describe.each(DATABASES)('SMS failover from the webhook to Twilio (%s)', (db) => {
  const webhook = new FakeHttpServer();
  const twilio = new FakeHttpServer();
  let t: TestApp;

  beforeAll(async () => {
    await webhook.start();
    await twilio.start();
    t = await startApp(db, {
      ...webhookEnv(`${webhook.url}/sms`),
      SMS_PROVIDER: 'webhook,twilio',
      TWILIO_BASE_URL: twilio.url,
      TWILIO_ACCOUNT_SID: TWILIO_SID,
      TWILIO_AUTH_TOKEN: TWILIO_TOKEN,
      TWILIO_FROM_NUMBER: TWILIO_FROM,
    });
  }, 60_000);
  afterAll(async () => {
    await t?.close();
    await webhook.close();
    await twilio.close();
  }, 60_000);

  it('sends through Twilio once when the webhook answers 500', async () => {
    webhook.handler = () => fail(500);
    twilio.handler = (r) => ({
      status: 201,
      body: JSON.stringify({ sid: `SM${randomBytes(16).toString('hex')}`, status: 'queued', to: r.form.get('To') }),
    });
    const phone = randomMobile();
    const { userId } = await createHuman(t, { phone, phoneMode: 'sendCode' });
    const [row] = await settled(t, userId);
    expect(row).toMatchObject({ status: 'delivered', attempts: 1, sealedCode: null, provider: 'twilio' });
    await sleep(150);

    expect(forUser(webhook, userId).map((r) => r.answered)).toEqual([500]);
    expect(twilio.requests).toHaveLength(1);
    const [request] = twilio.requests;
    expect(request.method).toBe('POST');
    expect(request.path).toBe(`/2010-04-01/Accounts/${TWILIO_SID}/Messages.json`);
    expect(request.headers.authorization).toBe(
      `Basic ${Buffer.from(`${TWILIO_SID}:${TWILIO_TOKEN}`).toString('base64')}`,
    );
    expect(request.headers['content-type']).toBe('application/x-www-form-urlencoded');
    const code = forUser(webhook, userId)[0].json.code as string;
    // the code's remaining life (PHONE_CODE_TTL 10 min, less the moments since it was issued) as ValidityPeriod
    const { ValidityPeriod, ...form } = Object.fromEntries(request.form);
    expect(form).toEqual({ To: phone, Body: englishText(code), From: TWILIO_FROM });
    expect(Number(ValidityPeriod)).toBeGreaterThan(590);
    expect(Number(ValidityPeriod)).toBeLessThanOrEqual(600);
    await t
      .http()
      .post(`/v2/users/${userId}/phone/verify`)
      .set(bearer(t.adminToken))
      .send({ verificationCode: code })
      .expect(200);
  });
});

/** One database shared by several app instances, removed at the end. */
async function sharedDatabase(db: Db): Promise<{ dir: string; schema?: string; drop(): Promise<void> }> {
  const dir = mkdtempSync(join(tmpdir(), 'pv-shared-'));
  const schema = db === 'postgres' ? await createPgSchema() : undefined;
  return {
    dir,
    schema,
    async drop() {
      if (schema) await dropPgSchema(schema);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

describe.each(DATABASES)('a worker stopped mid-delivery and restarted (%s)', (db) => {
  const webhook = new FakeHttpServer();
  beforeAll(() => webhook.start(), 60_000);
  afterAll(() => webhook.close(), 60_000);

  it('finishes the deliveries in flight before it stops; the next instance sends the rest; each once', async () => {
    const shared = await sharedDatabase(db);
    const apps = new Set<TestApp>();
    try {
      const first = await startApp(db, webhookEnv(`${webhook.url}/first`), shared);
      apps.add(first);
      const orgId = await createOrg(first);
      // first attempts fail fast; then both retries fall due at once and are claimed together
      const holds = new Map<string, ReturnType<typeof deferred<Reply>>>();
      webhook.handler = (r) => {
        if (forUser(webhook, r.json.userId).length === 1) return fail(503);
        const hold = deferred<Reply>();
        holds.set(r.json.userId, hold);
        return hold.promise;
      };
      const a = await createHuman(first, { orgId, phone: randomMobile(), phoneMode: 'sendCode' });
      const b = await createHuman(first, { orgId, phone: randomMobile(), phoneMode: 'sendCode' });
      await retryScheduled(first, a.userId, 1);
      await retryScheduled(first, b.userId, 1);
      first.clock.advance(RETRY_BASE);
      await until('both messages in flight', () => holds.size === 2);

      // the shutdown waits for both requests in flight
      let closed = false;
      apps.delete(first);
      const nodeId = first.app.get(IdGenerator).nodeId;
      const closing = first.close().then(() => (closed = true));
      await sleep(300);
      expect(closed).toBe(false);
      // while it still writes, the instance keeps its node id (no other instance can take it and mint the same ids)
      const lease = await dataSourceOf(first).getRepository(NodeLeaseEntity).findOneBy({ nodeId });
      expect(lease).not.toBeNull();
      holds.get(a.userId)!.resolve(ok);
      holds.get(b.userId)!.resolve(fail(503));
      await closing;

      webhook.handler = () => ok;
      const second = await startApp(db, webhookEnv(`${webhook.url}/second`), shared);
      apps.add(second);
      const [rowA] = await outboxOf(second, a.userId);
      expect(rowA).toMatchObject({ status: 'delivered', attempts: 2, sealedCode: null });
      expect((await outboxOf(second, b.userId))[0]).toMatchObject({
        status: 'pending',
        attempts: 2,
        lockedUntil: null,
      });
      second.clock.advance(3 * RETRY_BASE);
      const [rowB] = await settled(second, b.userId);
      expect(rowB).toMatchObject({ status: 'delivered', attempts: 3, sealedCode: null });
      await sleep(150);

      const seen = (userId: string) => forUser(webhook, userId).map((r) => [r.path, r.json.id, r.answered]);
      expect(seen(a.userId)).toEqual([
        ['/first', rowA.id, 503],
        ['/first', rowA.id, 200],
      ]);
      expect(seen(b.userId)).toEqual([
        ['/first', rowB.id, 503],
        ['/first', rowB.id, 503],
        ['/second', rowB.id, 200],
      ]);
      for (const user of [a, b]) {
        const sent = (await eventsOf(second, user.userId)).filter((e) => e.type === 'user.human.phone.code.sent');
        expect(sent).toHaveLength(1);
      }
    } finally {
      for (const app of apps) await app.close().catch(() => undefined);
      await shared.drop();
    }
  }, 120_000);
});

describe('two instances draining one PostgreSQL outbox', () => {
  const webhook = new FakeHttpServer();
  beforeAll(() => webhook.start(), 60_000);
  afterAll(() => webhook.close(), 60_000);

  it('delivers each of 20 queued messages exactly once', async () => {
    const shared = await sharedDatabase('postgres');
    const apps: TestApp[] = [];
    try {
      // a producer whose worker is stopped queues 20 messages, due five minutes from now
      webhook.handler = () => sleep(100).then(() => ok);
      const producer = await startApp('postgres', webhookEnv(`${webhook.url}/producer`), shared);
      await producer.app.get(SmsOutboxWorker).onModuleDestroy();
      producer.clock.advance(5 * 60_000);
      const orgId = await createOrg(producer);
      const users = await Promise.all(
        Array.from({ length: 20 }, async () => {
          const created = await createHuman(producer, { orgId, phone: randomMobile(), phoneMode: 'sendCode' });
          return created.userId;
        }),
      );
      const queued = await dataSourceOf(producer).getRepository(SmsOutboxEntity).find();
      expect(queued.map((r) => [r.status, r.attempts])).toEqual(Array.from({ length: 20 }, () => ['pending', 0]));
      await producer.close();

      // two instances; the messages fall due for both at the same moment
      const [a, b] = await Promise.all([
        startApp('postgres', webhookEnv(`${webhook.url}/a`), shared),
        startApp('postgres', webhookEnv(`${webhook.url}/b`), shared),
      ]);
      apps.push(a, b);
      a.clock.advance(5 * 60_000);
      b.clock.advance(5 * 60_000);
      const rows = await until(
        'all 20 delivered',
        async () => {
          const all = await dataSourceOf(a).getRepository(SmsOutboxEntity).find();
          return all.every((r) => r.status === 'delivered') ? all : undefined;
        },
        10_000,
      );
      await sleep(150);

      const retries = webhook.requests;
      expect(retries.filter((r) => r.path === '/producer')).toEqual([]);
      const perId = new Map<string, number>();
      for (const r of retries)
        perId.set(r.headers['idempotency-key'] as string, (perId.get(r.headers['idempotency-key'] as string) ?? 0) + 1);
      expect(perId.size).toBe(20);
      expect([...perId.values()].every((n) => n === 1)).toBe(true);
      expect(new Set(perId.keys())).toEqual(new Set(rows.map((r) => r.id)));
      expect(rows.every((r) => r.attempts === 1 && r.sealedCode === null)).toBe(true);
      // both instances took part
      expect(retries.filter((r) => r.path === '/a').length).toBeGreaterThan(0);
      expect(retries.filter((r) => r.path === '/b').length).toBeGreaterThan(0);
      for (const userId of users) {
        const sent = (await eventsOf(a, userId)).filter((e) => e.type === 'user.human.phone.code.sent');
        expect(sent).toHaveLength(1);
      }
    } finally {
      for (const app of apps) await app.close().catch(() => undefined);
      await shared.drop();
    }
  }, 120_000);
});
