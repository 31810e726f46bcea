import { randomBytes, randomInt } from 'node:crypto';
import { ConfigError } from '../src/common/config/config-error';
import { ChannelStepTimeouts } from '../src/phone/outbox/channel-step-timeouts';
import { SmsOutboxWorker } from '../src/phone/outbox/sms-outbox.worker';
import { Channel, ChannelSenders } from '../src/phone/sms/channels';
import { SmsAccepted, SmsDeliveryError, SmsMessage, SmsSender } from '../src/phone/sms/sms-sender';
import { webhookReceiptKey, webhookReceiptSignature } from '../src/phone/sms/webhook-receipts';
import { eventsOf } from './support/events';
import { createHuman } from './support/factories';
import { FakeHttpServer } from './support/fake-http';
import { FakeChannelSenders } from './support/fakes/channels';
import { outboxRow } from './support/outbox';
import { phoneApi } from './support/phone-api';
import { Sample, scrape, valueOf } from './support/prometheus';
import { DATABASES, freePort, startApp, TestApp } from './support/test-app';
import { TRANSPORTS, transportCaller } from './support/transports';

jest.setTimeout(30_000);

const SIGNING_KEY = randomBytes(32).toString('hex');
const PUBLIC_URL = 'https://verify.example.com/pv';
const STEP_MS = 60_000;

/** Indian, German and Swiss mobiles: the three routes of the app below. */
const indian = () => `+919${String(randomInt(100_000_000)).padStart(9, '0')}`;
const german = () => `+49151${String(randomInt(100_000_000)).padStart(8, '0')}`;
const swiss = () => `+4179${String(randomInt(10_000_000)).padStart(7, '0')}`;

/** A channel's sender as a test scripts it: accepts, or fails for good for the numbers in `failing`. */
class ScriptedSender extends SmsSender {
  readonly messages: SmsMessage[] = [];
  readonly failing = new Set<string>();
  readonly retrying = new Set<string>();

  constructor(readonly name: string) {
    super();
  }

  async send(message: SmsMessage): Promise<SmsAccepted> {
    this.messages.push(message);
    if (this.failing.has(message.to)) throw new SmsDeliveryError(`${this.name}: number not reachable`, false);
    if (this.retrying.has(message.to)) throw new SmsDeliveryError(`${this.name}: busy`, true);
    return { provider: this.name };
  }

  to(phone: string): SmsMessage[] {
    return this.messages.filter((m) => m.to === phone);
  }
}

/**
 * The workflow policy through the real app: SMS through the webhook provider (with receipts),
 * WhatsApp and voice through scripted senders put in place of the channels' own. At most one
 * fallback per code: Switzerland's three channels are cut to two.
 */
describe.each(DATABASES)('channel workflow (%s)', (db) => {
  const webhook = new FakeHttpServer();
  /** the risk hook (SEND_HOOK_URL): allows, naming `hookChannel` when a test sets it */
  const hook = new FakeHttpServer();
  let hookChannel: Channel | undefined;
  const whatsapp = new ScriptedSender('fake-whatsapp');
  const voice = new ScriptedSender('fake-voice');
  let t: TestApp;

  const smsTo = (phone: string) => webhook.requests.filter((r) => r.json?.to === phone).map((r) => r.json);
  const drained = async () => {
    const worker = t.app.get(SmsOutboxWorker);
    worker.kick();
    await worker.idle();
  };
  const sweep = () => t.app.get(ChannelStepTimeouts).sweep();
  const codeEvents = async (userId: string) =>
    (await eventsOf(t, userId))
      .filter((e) => e.type.startsWith('user.human.phone.code.') && e.type !== 'user.human.phone.code.added')
      .map((e) => [e.type, e.payload] as const);
  const webhookReceipt = (body: unknown) => {
    const raw = JSON.stringify(body);
    const signedAt = Math.floor(t.clock.now().getTime() / 1000);
    const signature = webhookReceiptSignature(webhookReceiptKey(SIGNING_KEY), signedAt, raw);
    return t
      .http()
      .post('/v2/sms/receipts/webhook')
      .set('Content-Type', 'application/json')
      .set('ZITADEL-Signature', `t=${signedAt},v1=${signature}`)
      .send(raw);
  };
  /** A user whose SetPhone sent a code to `phone`; what SetPhone answered. */
  async function setPhone(phone: string): Promise<{ userId: string; body: Record<string, unknown> }> {
    const { userId } = await createHuman(t, { preferredLanguage: 'de' });
    const res = await phoneApi(t).set(userId, { phone, sendCode: {} }).expect(200);
    await drained();
    return { userId, body: res.body as Record<string, unknown> };
  }
  const counter = (samples: Sample[], name: string, labels: Record<string, string>) => valueOf(samples, name, labels);

  beforeAll(async () => {
    await webhook.start();
    await hook.start();
    hook.handler = () => ({ status: 200, body: JSON.stringify({ action: 'allow', channel: hookChannel ?? null }) });
    const senders = (sms: SmsSender) => new FakeChannelSenders({ sms, whatsapp, voice });
    t = await startApp(
      db,
      {
        SMS_PROVIDER: 'webhook',
        SMS_WEBHOOK_URL: `${webhook.url}/sms`,
        SMS_WEBHOOK_SIGNING_KEY: SIGNING_KEY,
        SMS_RECEIPTS_BASE_URL: PUBLIC_URL,
        SMS_POLL_INTERVAL: '50ms',
        CHANNEL_ROUTES: 'IN=whatsapp,sms;DE=sms,voice;CH=whatsapp,voice,sms;*=sms',
        CHANNEL_STEP_TIMEOUT: '60s',
        CHANNEL_MAX_FALLBACKS: '1',
        SEND_HOOK_URL: `${hook.url}/send`,
        SEND_HOOK_SECRET: SIGNING_KEY,
        METRICS_PORT: String(await freePort()),
      },
      undefined,
      [{ provide: ChannelSenders, inject: [SmsSender], useFactory: senders }],
    );
  }, 60_000);
  afterAll(async () => {
    await t?.close();
    await webhook.close();
    await hook.close();
  }, 60_000);
  afterEach(() => {
    hookChannel = undefined;
  });

  it('an Indian number gets its code by WhatsApp first, with the language and no SMS text; the answer is as ever', async () => {
    const before = await scrape(t);
    const phone = indian();
    const { userId, body } = await setPhone(phone);
    expect(Object.keys(body)).toEqual(['details']);
    const [sent] = whatsapp.to(phone);
    expect(sent).toMatchObject({ to: phone, text: '', language: 'de', code: expect.stringMatching(/^\d{6}$/) });
    expect(smsTo(phone)).toEqual([]);
    expect(await outboxRow(t, userId)).toMatchObject({ channel: 'whatsapp', channels: 'whatsapp,sms', step: 0 });
    expect(await codeEvents(userId)).toEqual([
      ['user.human.phone.code.sent', { provider: 'fake-whatsapp', attempts: 1, channel: 'whatsapp' }],
    ]);
    const after = await scrape(t);
    const issued = { channel: 'whatsapp' };
    expect(
      counter(after, 'pv_phone_codes_issued_total', issued) - counter(before, 'pv_phone_codes_issued_total', issued),
    ).toBe(1);
    const accepted = { channel: 'whatsapp', result: 'accepted' };
    expect(
      counter(after, 'pv_channel_sends_total', accepted) - counter(before, 'pv_channel_sends_total', accepted),
    ).toBe(1);
  });

  it('WhatsApp failing for good: the same code by SMS, which VerifyPhone accepts', async () => {
    const before = await scrape(t);
    const phone = indian();
    whatsapp.failing.add(phone);
    const { userId } = await setPhone(phone);
    await drained();
    const [first] = whatsapp.to(phone);
    const [sms] = smsTo(phone);
    expect(sms.code).toBe(first.code);
    expect(sms.text).toContain(first.code);
    expect(await outboxRow(t, userId)).toMatchObject({ channel: 'sms', step: 1, status: 'delivered' });
    expect(await codeEvents(userId)).toEqual([
      ['user.human.phone.code.fallback', { channel: 'whatsapp', nextChannel: 'sms', reason: 'failed', step: 1 }],
      ['user.human.phone.code.sent', { provider: 'webhook', attempts: 1, channel: 'sms' }],
    ]);
    await phoneApi(t).verify(userId, first.code).expect(200);
    const after = await scrape(t);
    const moved = { from: 'whatsapp', to: 'sms', reason: 'failed' };
    expect(
      counter(after, 'pv_channel_fallbacks_total', moved) - counter(before, 'pv_channel_fallbacks_total', moved),
    ).toBe(1);
    const failed = { channel: 'whatsapp', result: 'failed' };
    expect(counter(after, 'pv_channel_sends_total', failed) - counter(before, 'pv_channel_sends_total', failed)).toBe(
      1,
    );
  });

  it('an SMS whose receipt says undelivered: the same code by voice', async () => {
    const before = await scrape(t);
    const phone = german();
    const { userId } = await setPhone(phone);
    const [sms] = smsTo(phone);
    expect(voice.to(phone)).toEqual([]);
    await webhookReceipt({ id: sms.id, status: 'undelivered', errorCode: 'ABSENT' }).expect(200);
    await drained();
    expect(voice.to(phone).map((m) => m.code)).toEqual([sms.code]);
    expect(await outboxRow(t, userId)).toMatchObject({ channel: 'voice', step: 1, status: 'delivered' });
    expect(await codeEvents(userId)).toEqual([
      ['user.human.phone.code.sent', { provider: 'webhook', attempts: 1, channel: 'sms' }],
      ['user.human.phone.code.fallback', { channel: 'sms', nextChannel: 'voice', reason: 'undelivered', step: 1 }],
      ['user.human.phone.code.sent', { provider: 'fake-voice', attempts: 1, channel: 'voice' }],
    ]);
    await phoneApi(t).verify(userId, sms.code).expect(200);
    const after = await scrape(t);
    const receipt = { channel: 'sms', status: 'undelivered' };
    expect(
      counter(after, 'pv_channel_receipts_total', receipt) - counter(before, 'pv_channel_receipts_total', receipt),
    ).toBe(1);
  });

  it('no receipt and no verification within the step timeout: the same code by the next channel', async () => {
    const phone = indian();
    const { userId } = await setPhone(phone);
    const [sent] = whatsapp.to(phone);
    t.clock.advance(STEP_MS / 2);
    await sweep();
    await drained();
    expect(smsTo(phone)).toEqual([]);
    t.clock.advance(STEP_MS / 2 + 1_000);
    await sweep();
    await drained();
    expect(smsTo(phone).map((m) => m.code)).toEqual([sent.code]);
    expect((await codeEvents(userId)).map(([type, payload]) => [type, payload.channel, payload.reason])).toEqual([
      ['user.human.phone.code.sent', 'whatsapp', undefined],
      ['user.human.phone.code.fallback', 'whatsapp', 'timeout'],
      ['user.human.phone.code.sent', 'sms', undefined],
    ]);
    await phoneApi(t).verify(userId, sent.code).expect(200);
  });

  it('a verification within the step timeout: no fallback', async () => {
    const phone = indian();
    const { userId } = await setPhone(phone);
    const [sent] = whatsapp.to(phone);
    await phoneApi(t).verify(userId, sent.code).expect(200);
    t.clock.advance(STEP_MS + 1_000);
    await sweep();
    await drained();
    expect(smsTo(phone)).toEqual([]);
    expect(await outboxRow(t, userId)).toMatchObject({ channel: 'whatsapp', sealedCode: null });
  });

  it('a delivered receipt within the step timeout: no fallback', async () => {
    const phone = german();
    const { userId } = await setPhone(phone);
    const [sms] = smsTo(phone);
    await webhookReceipt({ id: sms.id, status: 'delivered' }).expect(200);
    t.clock.advance(STEP_MS + 1_000);
    await sweep();
    await drained();
    expect(voice.to(phone)).toEqual([]);
    expect(await outboxRow(t, userId)).toMatchObject({ channel: 'sms', deliveryStatus: 'delivered', stepDueAt: null });
  });

  it('a step that fails for now is retried on its channel, and waits in the outbox under it', async () => {
    const phone = indian();
    whatsapp.retrying.add(phone);
    const { userId } = await setPhone(phone);
    expect(await outboxRow(t, userId)).toMatchObject({ channel: 'whatsapp', status: 'pending', attempts: 1 });
    expect(valueOf(await scrape(t), 'pv_outbox_channel_depth', { channel: 'whatsapp' })).toBeGreaterThanOrEqual(1);
    expect(smsTo(phone)).toEqual([]);
    // verified meanwhile (the code reached the user): the workflow ends
    await phoneApi(t).verify(userId, whatsapp.to(phone)[0].code).expect(200);
    whatsapp.retrying.delete(phone);
  });

  it("the risk hook's channel goes first, then the route's others", async () => {
    const phone = german();
    hookChannel = 'voice';
    const { userId } = await setPhone(phone);
    expect(voice.to(phone)).toHaveLength(1);
    expect(smsTo(phone)).toEqual([]);
    expect(await outboxRow(t, userId)).toMatchObject({ channel: 'voice', channels: 'voice,sms', step: 0 });
  });

  it('CHANNEL_MAX_FALLBACKS holds: WhatsApp then voice failing for good is the end, no SMS', async () => {
    const phone = swiss();
    whatsapp.failing.add(phone);
    voice.failing.add(phone);
    const { userId } = await setPhone(phone);
    await drained();
    expect(whatsapp.to(phone)).toHaveLength(1);
    expect(voice.to(phone)).toHaveLength(1);
    expect(smsTo(phone)).toEqual([]);
    expect(await outboxRow(t, userId)).toMatchObject({
      channels: 'whatsapp,voice',
      status: 'failed',
      sealedCode: null,
    });
    expect(await codeEvents(userId)).toEqual([
      ['user.human.phone.code.fallback', { channel: 'whatsapp', nextChannel: 'voice', reason: 'failed', step: 1 }],
      [
        'user.human.phone.code.delivery.failed',
        { provider: 'fake-voice', attempts: 1, reason: 'fake-voice: number not reachable', channel: 'voice' },
      ],
    ]);
  });

  it('nothing is sent once the code has expired', async () => {
    const phone = indian();
    const { userId } = await setPhone(phone);
    t.clock.advance(600_000 + 1_000);
    expect(await sweep()).toBe(0);
    await drained();
    expect(smsTo(phone)).toEqual([]);
    expect(await outboxRow(t, userId)).toMatchObject({ channel: 'whatsapp', sealedCode: null, stepDueAt: null });
  });

  it.each(TRANSPORTS)(
    'SetPhone and ResendPhoneCode over %s answer as ever (details only) while the code goes by WhatsApp',
    async (transport) => {
      const phone = indian();
      const { userId } = await createHuman(t);
      const caller = transportCaller(t, transport);
      const set = await caller.call('UserService', 'SetPhone', { userId, phone, sendCode: {} }, t.adminToken);
      const resent = await caller.call('UserService', 'ResendPhoneCode', { userId, sendCode: {} }, t.adminToken);
      for (const answer of [set, resent]) {
        expect(answer.ok).toBe(true);
        if (answer.ok) expect(Object.keys(answer.response)).toEqual(['details']);
      }
      await drained();
      expect(whatsapp.to(phone)).toHaveLength(2);
      expect(smsTo(phone)).toEqual([]);
    },
  );

  it('ResendPhoneCode answers as ever and starts the workflow again with a new code', async () => {
    const phone = indian();
    const { userId } = await setPhone(phone);
    const res = await phoneApi(t).resend(userId, { sendCode: {} }).expect(200);
    expect(Object.keys(res.body)).toEqual(['details']);
    await drained();
    const [first, second] = whatsapp.to(phone);
    expect(second.code).not.toBe(first.code);
    await phoneApi(t).verify(userId, second.code).expect(200);
  });
});

describe('CHANNEL_ROUTES at start', () => {
  it('refuses a channel without a sender, in one line naming the route', async () => {
    await expect(startApp('sqlite', { CHANNEL_ROUTES: 'IN=whatsapp,sms;*=sms' })).rejects.toEqual(
      new ConfigError([
        'CHANNEL_ROUTES: IN: channel "whatsapp" has no sender configured (configure its provider or take it out of the route)',
      ]),
    );
  });

  it('refuses an unknown channel', async () => {
    await expect(startApp('sqlite', { CHANNEL_ROUTES: 'IN=fax' })).rejects.toThrow(
      'CHANNEL_ROUTES: IN: unknown channel "fax" (known: sms, whatsapp, voice)',
    );
  });

  it('starts with a route naming a channel the senders have', async () => {
    const voice: Partial<Record<Channel, SmsSender>> = { voice: new ScriptedSender('fake-voice') };
    const t = await startApp('sqlite', { CHANNEL_ROUTES: 'DE=sms,voice' }, undefined, [
      {
        provide: ChannelSenders,
        inject: [SmsSender],
        useFactory: (sms: SmsSender) => new FakeChannelSenders({ sms, ...voice }),
      },
    ]);
    await t.close();
  });
});
