import { createHash, createHmac, generateKeyPairSync, randomBytes, randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import request from 'supertest';
import { ConfigError } from '../src/common/config/config-error';
import { ChannelSenders } from '../src/phone/sms/channels';
import { twilioSignature } from '../src/phone/sms/twilio-receipts';
import { FakeMeta, FakeTwilioApi, FakeVonageVoice } from './support/fake-channels';
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

/** Vonage's signed event: a JWT (HS256, the signature secret) over the body's SHA-256. */
function vonageEventAuthorization(body: string, secret: string): string {
  const b64 = (value: object) => Buffer.from(JSON.stringify(value)).toString('base64url');
  const header = b64({ alg: 'HS256', typ: 'JWT' });
  const payload = b64({
    iat: Math.floor(Date.now() / 1000),
    jti: randomUUID(),
    payload_hash: createHash('sha256').update(body).digest('hex'),
  });
  return `Bearer ${header}.${payload}.${createHmac('sha256', secret).update(`${header}.${payload}`).digest('base64url')}`;
}

describe.each(DATABASES)('WhatsApp (Meta) and voice (Vonage) senders in the real app (%s)', (db) => {
  const TOKEN = `EAAG${randomBytes(24).toString('hex')}`;
  const APP_SECRET = randomBytes(16).toString('hex');
  const SIGNATURE_SECRET = randomBytes(16).toString('hex');
  const APPLICATION = randomUUID();
  const keys = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const meta = new FakeMeta('v21.0', '106540352242922', TOKEN);
  const vonage = new FakeVonageVoice(APPLICATION, keys.publicKey.export({ type: 'spki', format: 'pem' }).toString());
  const dir = mkdtempSync(join(tmpdir(), 'pv-voice-'));
  const keyFile = join(dir, 'private.key');
  let env: Record<string, string>;
  let t: TestApp;

  beforeAll(async () => {
    writeFileSync(keyFile, keys.privateKey.export({ type: 'pkcs8', format: 'pem' }), { mode: 0o600 });
    await Promise.all([meta.start(), vonage.start()]);
    env = {
      SMS_RECEIPTS_BASE_URL: RECEIPTS,
      WHATSAPP_PROVIDER: 'meta',
      META_GRAPH_BASE_URL: meta.url,
      META_PHONE_NUMBER_ID: '106540352242922',
      META_ACCESS_TOKEN: TOKEN,
      META_APP_SECRET: APP_SECRET,
      META_WEBHOOK_VERIFY_TOKEN: 'verify-token-123',
      META_TEMPLATE_NAME: 'verify_code',
      META_TEMPLATE_LANGUAGES: 'en=en_US;de=de',
      VOICE_PROVIDER: 'vonage',
      VONAGE_VOICE_BASE_URL: vonage.url,
      VONAGE_APPLICATION_ID: APPLICATION,
      VONAGE_PRIVATE_KEY_FILE: keyFile,
      VONAGE_VOICE_FROM: '+15005550006',
      VONAGE_SIGNATURE_SECRET: SIGNATURE_SECRET,
    };
    t = await startApp(db, env);
  }, 60_000);
  afterAll(async () => {
    await t?.close();
    await Promise.all([meta.close(), vonage.close()]);
    rmSync(dir, { recursive: true, force: true });
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
    const status = JSON.stringify({
      object: 'whatsapp_business_account',
      entry: [
        {
          id: '1',
          changes: [
            {
              field: 'messages',
              value: { statuses: [{ id: 'wamid.X', status: 'delivered', timestamp: '1764590400' }] },
            },
          ],
        },
      ],
    });
    const signature = `sha256=${createHmac('sha256', APP_SECRET).update(status).digest('hex')}`;
    const json = { 'Content-Type': 'application/json' };
    await postReceipt(t, 'meta', status, { ...json, 'X-Hub-Signature-256': signature }).expect(200);
    await postReceipt(t, 'meta', status, { ...json, 'X-Hub-Signature-256': 'sha256=00' }).expect(401);
    const event = JSON.stringify({ uuid: randomUUID(), status: 'unanswered', timestamp: new Date().toISOString() });
    await postReceipt(t, 'vonage-voice', event, {
      ...json,
      Authorization: vonageEventAuthorization(event, SIGNATURE_SECRET),
    }).expect(200);
    await postReceipt(t, 'vonage-voice', event, {
      ...json,
      Authorization: vonageEventAuthorization(event, 'x'.repeat(32)),
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
  const SID = `AC${randomBytes(16).toString('hex')}`;
  const TOKEN = randomBytes(16).toString('hex');
  const CONTENT = `HX${randomBytes(16).toString('hex')}`;
  const twilio = new FakeTwilioApi(SID, TOKEN);
  let t: TestApp;

  beforeAll(async () => {
    await twilio.start();
    t = await startApp(db, {
      SMS_RECEIPTS_BASE_URL: RECEIPTS,
      TWILIO_BASE_URL: twilio.url,
      TWILIO_ACCOUNT_SID: SID,
      TWILIO_AUTH_TOKEN: TOKEN,
      WHATSAPP_PROVIDER: 'twilio',
      TWILIO_WHATSAPP_FROM: '+15005550006',
      TWILIO_WHATSAPP_CONTENT_SIDS: `en=${CONTENT}`,
      VOICE_PROVIDER: 'twilio',
      TWILIO_VOICE_FROM: '+15005550007',
    });
  }, 60_000);
  afterAll(async () => {
    await t?.close();
    await twilio.close();
  }, 60_000);

  it('sends the template by WhatsApp and calls, and takes both status callbacks', async () => {
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
      ['twilio-whatsapp', form({ MessageSid: sent.sid, MessageStatus: 'read', AccountSid: SID })],
      ['twilio-voice', form({ CallSid: called.sid, CallStatus: 'no-answer', AccountSid: SID })],
    ];
    for (const [provider, fields] of callbacks) {
      const url = `${RECEIPTS}/v2/sms/receipts/${provider}`;
      const headers = { 'Content-Type': 'application/x-www-form-urlencoded' };
      await postReceipt(t, provider, fields.toString(), {
        ...headers,
        'X-Twilio-Signature': twilioSignature(TOKEN, url, fields),
      }).expect(200);
      await postReceipt(t, provider, fields.toString(), { ...headers, 'X-Twilio-Signature': 'bm9wZQ==' }).expect(401);
    }
  });
});
