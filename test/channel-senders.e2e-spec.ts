import { randomBytes, randomUUID } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import request from 'supertest';
import { ConfigError } from '../src/common/config/config-error';
import { ChannelSenders } from '../src/phone/sms/channels';
import { twilioSignature } from '../src/phone/sms/twilio-receipts';
import { MetaAndVonage, metaStatusWebhook, twilioChannelsApp } from './support/channel-apps';
import { smsMessage } from './support/sms-messages';
import { DATABASES, startApp, TestApp } from './support/test-app';

jest.setTimeout(30_000);

const RECEIPTS = 'https://verify.example.com';
const CODE = '482913';

/** A receipt request to the app's own endpoint, as a provider sends it. */
function postReceipt(t: TestApp, provider: string, body: string, headers: Record<string, string>) {
  const port = (t.app.getHttpServer().address() as AddressInfo).port;
  const post = request(`http://127.0.0.1:${port}`).post(`/v2/sms/receipts/${provider}`);
  for (const [name, value] of Object.entries(headers)) post.set(name, value);
  return post.send(body);
}

describe.each(DATABASES)('WhatsApp (Meta) and voice (Vonage) senders in the real app (%s)', (db) => {
  const fakes = new MetaAndVonage();
  const { meta, vonage, dir } = fakes;
  let env: Record<string, string>;
  let t: TestApp;

  beforeAll(async () => {
    await fakes.start();
    env = {
      SMS_RECEIPTS_BASE_URL: RECEIPTS,
      ...fakes.env(),
      META_WEBHOOK_VERIFY_TOKEN: 'verify-token-123',
      META_TEMPLATE_LANGUAGES: 'en=en_US;de=de',
    };
    t = await startApp(db, env);
  }, 60_000);
  afterAll(async () => {
    await t?.close();
    await fakes.close();
  }, 60_000);

  it('sends a code by WhatsApp through Meta and by a call through Vonage', async () => {
    const channels = t.app.get(ChannelSenders);
    const message = smsMessage({ code: CODE, language: 'de', expiresAt: new Date(Date.now() + 300_000) });
    const whatsapp = await channels.senderFor('whatsapp')!.send(message);
    expect(whatsapp).toEqual({ provider: 'meta', providerMessageId: meta.sent[0].id });
    expect(meta.sent[0].template).toMatchObject({ name: 'verify_code', language: { code: 'de' } });
    expect(JSON.stringify(meta.sent[0].template.components)).toContain(CODE);
    const call = await channels.senderFor('voice')!.send(message);
    expect(call).toEqual({ provider: 'vonage-voice', providerMessageId: vonage.calls[0].uuid });
    expect(vonage.calls[0].body.ncco[0]).toEqual({
      action: 'talk',
      text: 'Ihr Bestätigungscode lautet 4, 8, 2, 9, 1, 3.',
      language: 'de-DE',
    });
    expect(vonage.calls[0].body.event_url).toEqual([`${RECEIPTS}/v2/sms/receipts/vonage-voice`]);
    expect(channels.senderFor('sms')?.name).toBe('none');
  });

  it("takes Meta's signed status webhooks and Vonage's signed call events, and refuses unsigned ones", async () => {
    const status = metaStatusWebhook([{ id: 'wamid.X', status: 'delivered', timestamp: '1764590400' }]);
    const signature = fakes.metaSignature(status);
    const json = { 'Content-Type': 'application/json' };
    await postReceipt(t, 'meta', status, { ...json, 'X-Hub-Signature-256': signature }).expect(200);
    await postReceipt(t, 'meta', status, { ...json, 'X-Hub-Signature-256': 'sha256=00' }).expect(401);
    const event = JSON.stringify({ uuid: randomUUID(), status: 'unanswered', timestamp: new Date().toISOString() });
    await postReceipt(t, 'vonage-voice', event, {
      ...json,
      Authorization: fakes.vonageAuthorization(event),
    }).expect(200);
    await postReceipt(t, 'vonage-voice', event, {
      ...json,
      Authorization: fakes.vonageAuthorization(event, 'x'.repeat(32)),
    }).expect(401);
  });

  it("answers Meta's verification of the webhook URL with the challenge, as plain text, for the verify token only", async () => {
    const port = (t.app.getHttpServer().address() as AddressInfo).port;
    const verify = (token: string) =>
      request(`http://127.0.0.1:${port}`)
        .get('/v2/sms/receipts/meta')
        .query({ 'hub.mode': 'subscribe', 'hub.verify_token': token, 'hub.challenge': '1158201444' });
    const answered = await verify('verify-token-123').expect(200);
    expect(answered.text).toBe('1158201444');
    expect(answered.headers['content-type']).toMatch(/^text\/plain/);
    await verify('verify-token-999').expect(401);
  });

  it('refuses to start when the private key file cannot be read, naming the setting', async () => {
    const error = await startApp(db, { ...env, VONAGE_PRIVATE_KEY_FILE: join(dir, 'missing.key') }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).problems).toEqual([
      `VONAGE_PRIVATE_KEY_FILE: ${join(dir, 'missing.key')} cannot be read (ENOENT)`,
    ]);
  });
});

describe.each(DATABASES)('WhatsApp and voice through Twilio in the real app (%s)', (db) => {
  const CONTENT = `HX${randomBytes(16).toString('hex')}`;
  const { sid, token, twilio, app } = twilioChannelsApp(db, {
    SMS_RECEIPTS_BASE_URL: RECEIPTS,
    TWILIO_WHATSAPP_CONTENT_SIDS: `en=${CONTENT}`,
  });

  it('sends the template by WhatsApp and calls, and takes both status callbacks', async () => {
    const t = app();
    const channels = t.app.get(ChannelSenders);
    const message = smsMessage({ code: CODE, expiresAt: new Date(Date.now() + 300_000) });
    await channels.senderFor('whatsapp')!.send(message);
    await channels.senderFor('voice')!.send(message);
    const [sent, called] = twilio.created;
    expect(sent.form).toMatchObject({
      To: 'whatsapp:+41791234567',
      ContentSid: CONTENT,
      ContentVariables: JSON.stringify({ 1: CODE }),
      StatusCallback: `${RECEIPTS}/v2/sms/receipts/twilio-whatsapp`,
    });
    expect(called).toMatchObject({ resource: 'Calls' });
    expect(called.form.Twiml).toContain('<Say language="en-US">Your verification code is 4, 8, 2, 9, 1, 3.</Say>');
    expect(called.form.StatusCallback).toBe(`${RECEIPTS}/v2/sms/receipts/twilio-voice`);

    const form = (fields: Record<string, string>) => new URLSearchParams(fields);
    const callbacks: [string, URLSearchParams][] = [
      ['twilio-whatsapp', form({ MessageSid: sent.sid, MessageStatus: 'read', AccountSid: sid })],
      ['twilio-voice', form({ CallSid: called.sid, CallStatus: 'no-answer', AccountSid: sid })],
    ];
    for (const [provider, fields] of callbacks) {
      const url = `${RECEIPTS}/v2/sms/receipts/${provider}`;
      const headers = { 'Content-Type': 'application/x-www-form-urlencoded' };
      await postReceipt(t, provider, fields.toString(), {
        ...headers,
        'X-Twilio-Signature': twilioSignature(token, url, fields),
      }).expect(200);
      await postReceipt(t, provider, fields.toString(), { ...headers, 'X-Twilio-Signature': 'bm9wZQ==' }).expect(401);
    }
  });
});
