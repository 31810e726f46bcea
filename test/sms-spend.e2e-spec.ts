import { randomBytes, randomInt } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseDocument } from 'yaml';
import { SmsOutboxEntity } from '../src/phone/outbox/sms-outbox.entity';
import { SmsOutboxWorker } from '../src/phone/outbox/sms-outbox.worker';
import { SmsSpendCountEntity } from '../src/phone/spend/sms-spend-count.entity';
import { vonageSignature } from '../src/phone/sms/vonage-sms-sender';
import { eventsOf } from './support/events';
import { createHuman, createOrg, randomMobile } from './support/factories';
import { FakeHttpServer } from './support/fake-http';
import { FakeTwilio, postTwilioCallback } from './support/fake-twilio';
import { outboxOf, outboxRowWhen } from './support/outbox';
import { scrape, valueOf } from './support/prometheus';
import { bearer, DATABASES, dataSourceOf, freePort, startApp, TestApp } from './support/test-app';
import { TRANSPORTS, transportCaller } from './support/transports';
import { ERROR_DETAIL, ERROR_INFO } from './support/wire';

jest.setTimeout(60_000);

const DAY = 86_400_000;
const PUBLIC_URL = 'https://verify.example.com';
const TWILIO_SID = `AC${randomBytes(16).toString('hex')}`;
const TWILIO_TOKEN = randomBytes(16).toString('hex');
const VONAGE_KEY = 'a1b2c3d4';
const VONAGE_SIGNATURE_SECRET = randomBytes(24).toString('hex');
/** CH goes to Vonage (0.05), every other country to Twilio (0.10 to DE): a CH send is admitted at 0.08, Twilio's */
const PRICES = 'vonage:CH=0.05,twilio:*=0.08,twilio:DE=0.10';
const germanMobile = () => `+49151${String(randomInt(10_000_000, 99_999_999))}`;

/** The spend counters as the database holds them: key → micros of the days since `since`. */
async function spent(t: TestApp, key: string, since = 0): Promise<number> {
  const rows = await dataSourceOf(t).getRepository(SmsSpendCountEntity).find({ where: { key } });
  return rows.filter((row) => Number(row.day) >= since).reduce((sum, row) => sum + row.micros, 0);
}

const startOfDay = (t: TestApp) => Math.floor(t.clock.now().getTime() / DAY) * DAY;

async function drained(t: TestApp): Promise<void> {
  const worker = t.app.get(SmsOutboxWorker);
  worker.kick();
  await worker.idle();
}

describe.each(DATABASES)('SMS spending caps (%s)', (db) => {
  const twilio = new FakeTwilio(TWILIO_SID, TWILIO_TOKEN);
  const vonage = new FakeHttpServer();
  const webhook = new FakeHttpServer();

  beforeAll(async () => {
    await twilio.start();
    await vonage.start();
    await webhook.start();
    vonage.handler = (r) => ({
      status: 200,
      body: JSON.stringify({ messages: [{ status: '0', 'message-id': `V${randomInt(1e9)}`, to: r.form.get('to') }] }),
    });
    webhook.handler = () => ({ status: 204 });
  });
  afterAll(async () => {
    await twilio.close();
    await vonage.close();
    await webhook.close();
  });

  describe('enforce', () => {
    let t: TestApp;

    beforeAll(async () => {
      t = await startApp(db, {
        SMS_ROUTES: 'CH=vonage;*=twilio',
        SMS_RECEIPTS_BASE_URL: PUBLIC_URL,
        TWILIO_BASE_URL: twilio.url,
        TWILIO_ACCOUNT_SID: TWILIO_SID,
        TWILIO_AUTH_TOKEN: TWILIO_TOKEN,
        TWILIO_FROM_NUMBER: '+15005550006',
        VONAGE_BASE_URL: vonage.url,
        VONAGE_API_KEY: VONAGE_KEY,
        VONAGE_API_SECRET: 'Zx9Yw8Vu7Ts6Rq5P',
        VONAGE_SIGNATURE_SECRET,
        VONAGE_FROM: 'MyApp',
        SMS_POLL_INTERVAL: '50ms',
        SMS_SPEND_MODE: 'enforce',
        SMS_PRICE_CURRENCY: 'EUR',
        SMS_PRICES: PRICES,
        SMS_SPEND_CAPS: 'org.day:0.3,month:1000',
        METRICS_PORT: String(await freePort()),
      });
      // an hour into a UTC day: every test runs within the same day until one moves to the next
      t.clock.advance(startOfDay(t) + DAY + 3_600_000 - t.clock.now().getTime());
    }, 60_000);
    afterAll(() => t?.close(), 60_000);

    /** A user of `orgId` whose code a provider accepted: its outbox row. */
    async function sent(orgId: string, phone: string): Promise<SmsOutboxEntity> {
      const { userId } = await createHuman(t, { orgId, phone, phoneMode: 'sendCode' });
      return outboxRowWhen(t, userId, 'a provider to accept', (r) => r.status === 'delivered');
    }

    it('counts each accepted text at its provider and country price; refuses past the org day cap on every transport', async () => {
      const orgId = await createOrg(t);
      const day = startOfDay(t);
      for (let i = 0; i < 3; i++) {
        const row = await sent(orgId, germanMobile());
        expect(row).toMatchObject({ provider: 'twilio', spendMicros: 100_000, spendDay: day });
      }
      expect(await spent(t, `o:${orgId}`)).toBe(300_000);

      const { userId } = await createHuman(t, { orgId });
      const text = 'The SMS spending cap is reached, try again later';
      for (const transport of TRANSPORTS) {
        const caller = transportCaller(t, transport);
        try {
          const result = await caller.call(
            'UserService',
            'SetPhone',
            { userId, phone: germanMobile(), sendCode: {} },
            t.adminToken,
          );
          expect(result).toMatchObject({ ok: false, code: 8, message: `${text} (PHONE-sp3ndcap)` });
          if (transport === 'rest') expect(result).toMatchObject({ httpStatus: 429 });
          expect(result.ok === false && result.details).toEqual(
            expect.arrayContaining([
              { '@type': ERROR_DETAIL, id: 'PHONE-sp3ndcap', message: text },
              { '@type': ERROR_INFO, reason: 'SPEND_CAP', domain: 'phone-verify', metadata: { cap: 'org.day' } },
            ]),
          );
        } finally {
          caller.close();
        }
      }
      // nothing queued, nothing counted, the refusal is an event
      await drained(t);
      expect(await outboxOf(t, userId)).toEqual([]);
      expect(await spent(t, `o:${orgId}`)).toBe(300_000);
      const blocked = (await eventsOf(t, userId)).filter((e) => e.type === 'user.human.phone.code.send.blocked');
      expect(blocked.map((e) => e.payload)).toEqual(
        TRANSPORTS.map(() => ({ rule: 'spend_cap', cap: 'org.day', country: 'DE' })),
      );
      // another organization has its own day
      expect((await sent(await createOrg(t), germanMobile())).status).toBe('delivered');
    });

    it("admits with the dearest price to the country: CH's 0.08 does not fit under 0.3 after 0.25", async () => {
      const orgId = await createOrg(t);
      for (let i = 0; i < 5; i++) expect((await sent(orgId, randomMobile())).spendMicros).toBe(50_000);
      const { userId } = await createHuman(t, { orgId });
      await t
        .http()
        .post(`/v2/users/${userId}/phone`)
        .set(bearer(t.adminToken))
        .send({ phone: randomMobile(), sendCode: {} })
        .expect(429);
    });

    it("a Vonage receipt's price replaces the estimate, on the day it was counted", async () => {
      const orgId = await createOrg(t);
      const row = await sent(orgId, randomMobile());
      expect(row).toMatchObject({ provider: 'vonage', spendMicros: 50_000 });
      const before = await scrape(t);
      const params: Record<string, string> = {
        msisdn: row.recipient.slice(1),
        to: 'MyApp',
        messageId: row.providerMessageId!,
        status: 'delivered',
        'err-code': '0',
        price: '0.03330000',
        'network-code': '22801',
        'api-key': VONAGE_KEY,
        'message-timestamp': '2026-12-01 12:00:30',
        timestamp: String(Math.floor(t.clock.now().getTime() / 1000)),
        nonce: randomBytes(8).toString('hex'),
      };
      params.sig = vonageSignature(params, VONAGE_SIGNATURE_SECRET, 'sha256');
      await t
        .http()
        .get(`/v2/sms/receipts/vonage?${new URLSearchParams(params)}`)
        .expect(200);

      const [after] = await outboxOf(t, row.userId);
      expect(after).toMatchObject({ deliveryStatus: 'delivered', spendMicros: 33_300, spendDay: row.spendDay });
      expect(await spent(t, `o:${orgId}`)).toBe(33_300);
      const samples = await scrape(t);
      const total = { provider: 'vonage', country_group: 'CH' };
      expect(valueOf(samples, 'pv_sms_spend_total', total) - valueOf(before, 'pv_sms_spend_total', total)).toBeCloseTo(
        -0.0167,
        6,
      );
    });

    it('a Twilio callback that carries a price replaces the estimate; one in another currency does not', async () => {
      const orgId = await createOrg(t);
      const callback = (sid: string, status: string, extra: Record<string, string>) =>
        postTwilioCallback(t, `${PUBLIC_URL}/v2/sms/receipts/twilio`, TWILIO_TOKEN, {
          AccountSid: TWILIO_SID,
          MessageSid: sid,
          MessageStatus: status,
          ApiVersion: '2010-04-01',
          ...extra,
        }).expect(200);
      const usd = await sent(orgId, germanMobile());
      await callback(usd.providerMessageId!, 'delivered', { Price: '-0.0850', PriceUnit: 'USD' });
      expect((await outboxOf(t, usd.userId))[0]).toMatchObject({ deliveryStatus: 'delivered', spendMicros: 100_000 });

      const row = await sent(orgId, germanMobile());
      await callback(row.providerMessageId!, 'sent', {});
      expect((await outboxOf(t, row.userId))[0].spendMicros).toBe(100_000);
      await callback(row.providerMessageId!, 'delivered', { Price: '-0.07120', PriceUnit: 'EUR' });
      expect((await outboxOf(t, row.userId))[0]).toMatchObject({ deliveryStatus: 'delivered', spendMicros: 71_200 });
      expect(await spent(t, `o:${orgId}`)).toBe(171_200);
    });

    it('/metrics: the month by provider and country group, and spent over cap per cap', async () => {
      const samples = await scrape(t);
      const month = await spent(t, 'i');
      expect(valueOf(samples, 'pv_sms_spend_cap_ratio', { cap: 'month' })).toBeCloseTo(month / 1e9, 9);
      // four transports, then the dearest-price refusal
      expect(valueOf(samples, 'pv_sms_spend_refusals_total', { cap: 'org.day', mode: 'enforce' })).toBe(5);
      expect(valueOf(samples, 'pv_sms_spend_refusals_total', { cap: 'month', mode: 'enforce' })).toBe(0);
      // the org closest to its day cap is at it (0.3 of 0.3)
      expect(valueOf(samples, 'pv_sms_spend_cap_ratio', { cap: 'org.day' })).toBeCloseTo(1, 9);
      expect(valueOf(samples, 'pv_sms_spend_total', { provider: 'twilio', country_group: 'DE' })).toBeCloseTo(
        (await spent(t, 'p:twilio|DE')) / 1e6,
        6,
      );
      const groups = samples.filter((s) => s.name === 'pv_sms_spend_total').map((s) => s.labels.country_group);
      expect(new Set(groups)).toEqual(new Set(['CH', 'DE']));
    });

    it('the alert rules file parses and names only metrics this app exports', async () => {
      const doc = parseDocument(readFileSync(join(__dirname, '../deploy/prometheus/sms-spend.rules.yml'), 'utf8'));
      expect(doc.errors).toEqual([]);
      const rules = (
        doc.toJS() as { groups: Array<{ name: string; rules: Array<Record<string, any>> }> }
      ).groups.flatMap((group) => group.rules);
      expect(rules.map((rule) => rule.alert)).toEqual(['SmsSpendNearCap', 'SmsSpendCapReached']);
      const exported = new Set((await scrape(t)).map((sample) => sample.name));
      for (const rule of rules) {
        expect(rule).toMatchObject({ expr: expect.any(String), for: expect.stringMatching(/^\d+[smh]$/) });
        expect(rule.labels.severity).toMatch(/^(warning|critical)$/);
        // balanced brackets, and every metric it names is one the app exports
        const expr = rule.expr as string;
        let depth = 0;
        for (const char of expr) {
          depth += char === '(' ? 1 : char === ')' ? -1 : 0;
          expect(depth).toBeGreaterThanOrEqual(0);
        }
        expect(depth).toBe(0);
        const names = expr.match(/\bpv_[a-z_]+\b/g) ?? [];
        expect(names.length).toBeGreaterThan(0);
        for (const name of names) expect(exported).toContain(name);
      }
      expect(rules[0].expr).toContain('>= 0.8');
    });

    it('the next UTC day, the org may send again', async () => {
      const orgId = await createOrg(t);
      for (let i = 0; i < 3; i++) await sent(orgId, germanMobile());
      const { userId } = await createHuman(t, { orgId });
      const setPhone = () =>
        t
          .http()
          .post(`/v2/users/${userId}/phone`)
          .set(bearer(t.adminToken))
          .send({ phone: germanMobile(), sendCode: {} });
      await setPhone().expect(429);
      t.clock.advance(startOfDay(t) + DAY - t.clock.now().getTime());
      await setPhone().expect(200);
      const row = await outboxRowWhen(t, userId, 'Twilio to accept', (r) => r.status === 'delivered');
      expect(row.spendDay).toBe(startOfDay(t));
      expect(await spent(t, `o:${orgId}`, startOfDay(t))).toBe(100_000);
    });
  });

  describe('record', () => {
    let t: TestApp;

    beforeAll(async () => {
      t = await startApp(db, {
        SMS_PROVIDER: 'webhook',
        SMS_WEBHOOK_URL: `${webhook.url}/sms`,
        SMS_POLL_INTERVAL: '50ms',
        SMS_SPEND_MODE: 'record',
        SMS_PRICES: '*:*=0.02',
        SMS_SPEND_CAPS: 'day:0.03',
        METRICS_PORT: String(await freePort()),
      });
    }, 60_000);
    afterAll(() => t?.close(), 60_000);

    it('counts every accepted text and refuses none, logging what the cap would refuse', async () => {
      const users: string[] = [];
      for (let i = 0; i < 3; i++) {
        const { userId } = await createHuman(t, { phone: randomMobile(), phoneMode: 'sendCode' });
        users.push(userId);
        await outboxRowWhen(t, userId, 'the webhook to accept', (r) => r.status === 'delivered');
      }
      expect(await spent(t, 'i')).toBe(60_000);
      const lines = t.logs.filter((line) => line.includes('SMS spending cap would refuse this send'));
      // the second (0.02 + 0.02 > 0.03) and the third
      expect(lines).toHaveLength(2);
      expect(JSON.parse(lines[0]).smsSpend).toMatchObject({ mode: 'record', cap: 'day', country: 'CH' });
      expect(valueOf(await scrape(t), 'pv_sms_spend_cap_ratio', { cap: 'day' })).toBeCloseTo(2, 9);
      expect(valueOf(await scrape(t), 'pv_sms_spend_refusals_total', { cap: 'day', mode: 'record' })).toBe(2);
      expect(
        valueOf(await scrape(t), 'pv_sms_spend_total', { provider: 'webhook', country_group: 'other' }),
      ).toBeCloseTo(0.06, 9);
    });
  });
});

describe('SMS spending settings', () => {
  it('a bad price, cap or group stops the start, naming each entry', async () => {
    await expect(
      startApp('sqlite', {
        SMS_SPEND_MODE: 'enforce',
        SMS_PRICES: 'twilio:CH=abc',
        SMS_SPEND_CAPS: 'org.week:5,country.asia.day:1',
        SMS_SPEND_COUNTRY_GROUPS: 'premium=LV|lt',
      }),
    ).rejects.toThrow(
      [
        'SMS_PRICES: not provider:COUNTRY=amount (such as twilio:CH=0.0741): "twilio:CH=abc"',
        'SMS_SPEND_COUNTRY_GROUPS: not name=CC|CC (such as premium=LV|LT): "premium=LV|lt"',
        'SMS_SPEND_CAPS: not [org.|country.<CODE or group>.]day|month:amount with an amount above 0 (such as org.day:50): "org.week:5"',
        'SMS_SPEND_CAPS: country.asia.day:1: no group asia in SMS_SPEND_COUNTRY_GROUPS',
      ].join('\n  '),
    );
  }, 60_000);
});
