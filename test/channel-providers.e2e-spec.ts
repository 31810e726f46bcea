import { randomInt } from 'node:crypto';
import { MetaAndVonage, metaStatusWebhook, twilioChannelsApp } from './support/channel-apps';
import { createHuman } from './support/factories';
import { FakeHttpServer } from './support/fake-http';
import { drainOutbox } from './support/outbox';
import { phoneApi } from './support/phone-api';
import { DATABASES, startApp, TestApp } from './support/test-app';
import { until } from './support/wait';

jest.setTimeout(30_000);

const indian = () => `+919${String(randomInt(100_000_000)).padStart(9, '0')}`;
const german = () => `+49151${String(randomInt(100_000_000)).padStart(8, '0')}`;

/** A new user of `language` sets `phone` with a code sent, and the outbox sends it. */
async function setPhoneAndSend(t: TestApp, phone: string, language: string): Promise<string> {
  const { userId } = await createHuman(t, { preferredLanguage: language });
  await phoneApi(t).set(userId, { phone, sendCode: {} }).expect(200);
  await drainOutbox(t);
  return userId;
}

/**
 * The channel workflow with the real WhatsApp and voice senders: Meta's and Vonage's APIs are local
 * fakes, SMS goes to a webhook. India is routed WhatsApp first, Germany voice first; a code reaches
 * the fake API, is read from it and verifies; Meta's signed `failed` status moves the code to SMS.
 */
describe.each(DATABASES)('WhatsApp and voice providers in the channel workflow (%s)', (db) => {
  const fakes = new MetaAndVonage();
  const { meta, vonage } = fakes;
  const webhook = new FakeHttpServer();
  let t: TestApp;

  const setPhone = (phone: string, language: string) => setPhoneAndSend(t, phone, language);
  /** Posts a provider's signed receipt (taken), then the SMS the code goes out by. */
  async function smsAfterReceipt(phone: string, provider: string, body: string, [name, value]: [string, string]) {
    await t
      .http()
      .post(`/v2/sms/receipts/${provider}`)
      .set('Content-Type', 'application/json')
      .set(name, value)
      .send(body)
      .expect(200);
    await drainOutbox(t);
    return until('the SMS after the fallback', async () => webhook.requests.find((r) => r.json.to === phone));
  }

  beforeAll(async () => {
    await Promise.all([fakes.start(), webhook.start()]);
    t = await startApp(db, {
      SMS_PROVIDER: 'webhook',
      SMS_WEBHOOK_URL: `${webhook.url}/sms`,
      SMS_POLL_INTERVAL: '50ms',
      SMS_RECEIPTS_BASE_URL: 'https://verify.example.com',
      CHANNEL_ROUTES: 'IN=whatsapp,sms;DE=voice,sms;*=sms',
      ...fakes.env(),
    });
  }, 60_000);
  afterAll(async () => {
    await t?.close();
    await Promise.all([fakes.close(), webhook.close()]);
  }, 60_000);

  it('sends an Indian number its code by WhatsApp through Meta, and the code verifies', async () => {
    const phone = indian();
    const userId = await setPhone(phone, 'en');
    const sent = await until('the template at Meta', async () => meta.sent.find((s) => `+${s.to}` === phone));
    const code = sent.template.components[0].parameters[0].text as string;
    expect(sent.template.components[1]).toEqual({
      type: 'button',
      sub_type: 'url',
      index: '0',
      parameters: [{ type: 'text', text: code }],
    });
    expect(webhook.requests.filter((r) => r.json.to === phone)).toEqual([]);
    await phoneApi(t).verify(userId, code).expect(200);
  });

  it('calls a German number through Vonage, reading the code in German, and the code verifies', async () => {
    const phone = german();
    const userId = await setPhone(phone, 'de');
    const call = await until('the call at Vonage', async () =>
      vonage.calls.find((c) => `+${c.body.to[0].number}` === phone),
    );
    const talk = call.body.ncco[0] as { text: string; language: string };
    expect(talk.language).toBe('de-DE');
    const code = /lautet ([0-9, ]+)\.$/.exec(talk.text)![1].split(', ').join('');
    await phoneApi(t).verify(userId, code).expect(200);
  });

  it("moves the code to SMS when Meta's signed status says the WhatsApp message failed", async () => {
    const phone = indian();
    await setPhone(phone, 'en');
    const sent = await until('the template at Meta', async () => meta.sent.find((s) => `+${s.to}` === phone));
    const code = sent.template.components[0].parameters[0].text as string;
    const status = metaStatusWebhook([
      { id: sent.id, status: 'failed', timestamp: String(Math.floor(Date.now() / 1000)), errors: [{ code: 131026 }] },
    ]);
    const sms = await smsAfterReceipt(phone, 'meta', status, ['X-Hub-Signature-256', fakes.metaSignature(status)]);
    expect(sms.json.code).toBe(code);
  });

  it("moves the code to SMS when Vonage's signed event says the call was not answered", async () => {
    const phone = german();
    await setPhone(phone, 'de');
    const call = await until('the call at Vonage', async () =>
      vonage.calls.find((c) => `+${c.body.to[0].number}` === phone),
    );
    const event = JSON.stringify({ uuid: call.uuid, status: 'unanswered', timestamp: new Date().toISOString() });
    const sms = await smsAfterReceipt(phone, 'vonage-voice', event, [
      'Authorization',
      fakes.vonageAuthorization(event),
    ]);
    expect(sms.json.text).toContain(sms.json.code);
  });
});

/** Twilio for both: WhatsApp without a Content SID sends the SMS text as its body; the call's TwiML reads the code. */
describe.each(DATABASES)('Twilio WhatsApp and voice in the channel workflow (%s)', (db) => {
  const { twilio, app } = twilioChannelsApp(db, {
    SMS_POLL_INTERVAL: '50ms',
    CHANNEL_ROUTES: 'IN=whatsapp,sms;DE=voice,sms;*=sms',
    SMS_WEBOTP_DOMAIN: 'verify.example.com',
  });

  const sentTo = (phone: string) =>
    until(`Twilio's resource for ${phone}`, async () =>
      twilio.created.find((c) => c.form.To === phone || c.form.To === `whatsapp:${phone}`),
    );
  const setPhone = (phone: string) => setPhoneAndSend(app(), phone, 'en');

  it('sends the SMS text by WhatsApp when no template is configured, and the code verifies', async () => {
    const phone = indian();
    const userId = await setPhone(phone);
    const sent = await sentTo(phone);
    expect(sent.resource).toBe('Messages');
    expect(sent.form.From).toBe('whatsapp:+15005550006');
    const code = /^(\d+) is your code/.exec(sent.form.Body)![1];
    expect(sent.form.Body).toBe(
      `${code} is your code to verify your phone number. Do not share it with anyone.\n\n@verify.example.com #${code}`,
    );
    await phoneApi(app()).verify(userId, code).expect(200);
  });

  it('calls with TwiML that reads the code twice, and the code verifies', async () => {
    const phone = german();
    const userId = await setPhone(phone);
    const call = await sentTo(phone);
    expect(call.resource).toBe('Calls');
    const says = [...call.form.Twiml.matchAll(/<Say language="en-US">Your verification code is ([0-9, ]+)\.<\/Say>/g)];
    expect(says).toHaveLength(2);
    await phoneApi(app()).verify(userId, says[0][1].split(', ').join('')).expect(200);
  });
});
