import { randomBytes } from 'node:crypto';
import { MetaWhatsAppSender, MetaWhatsAppSenderOptions } from '../../src/phone/sms/meta-whatsapp-sender';
import { TwilioSmsSender, TwilioSmsSenderOptions } from '../../src/phone/sms/twilio-sms-sender';
import {
  expectFailureWithoutCode,
  expectTimeoutRetry,
  fakeTwilioAccount,
  itHandlesTwilioFailures,
  jsonReply,
} from '../support/channel-sender-cases';
import { FakeMeta } from '../support/fake-channels';
import { ManualClock } from '../support/fakes/clock';
import { deliveryFailure, smsMessage } from '../support/sms-messages';

const CODE = '482913';

describe(`${MetaWhatsAppSender.name} against a fake Graph API`, () => {
  const TOKEN = `EAAG${randomBytes(24).toString('hex')}`;
  const fake = new FakeMeta('v21.0', '106540352242922', TOKEN);
  const sender = (options: Partial<MetaWhatsAppSenderOptions> = {}) =>
    new MetaWhatsAppSender({
      baseUrl: fake.url,
      apiVersion: 'v21.0',
      phoneNumberId: '106540352242922',
      accessToken: TOKEN,
      templateName: 'verify_code',
      templateLanguages: new Map([
        ['en', 'en_US'],
        ['de', 'de'],
      ]),
      timeoutMs: 2_000,
      ...options,
    });

  beforeAll(() => fake.start());
  afterAll(() => fake.close());
  beforeEach(() => {
    fake.sent.length = 0;
    fake.requests.length = 0;
    fake.answer = undefined;
  });

  it('sends the authentication template with the code as body and copy-code button parameter', async () => {
    const accepted = await sender().send(smsMessage({ language: 'de-CH' }));
    expect(fake.sent).toHaveLength(1);
    expect(accepted).toEqual({ provider: 'meta', providerMessageId: fake.sent[0].id });
    expect(fake.sent[0].request.headers['content-type']).toBe('application/json');
    expect(fake.sent[0].request.json).toEqual({
      messaging_product: 'whatsapp',
      recipient_type: 'individual',
      to: '41791234567',
      type: 'template',
      template: {
        name: 'verify_code',
        language: { code: 'de' },
        components: [
          { type: 'body', parameters: [{ type: 'text', text: CODE }] },
          { type: 'button', sub_type: 'url', index: '0', parameters: [{ type: 'text', text: CODE }] },
        ],
      },
    });
  });

  it("takes English's template language for a language without one", async () => {
    await sender().send(smsMessage({ language: 'fr' }));
    await sender().send(smsMessage({}));
    expect(fake.sent.map((s) => s.template.language.code)).toEqual(['en_US', 'en_US']);
  });

  it('gives up on a token Meta refuses (190), without the code in the reason', async () => {
    const error = await deliveryFailure(sender({ accessToken: `EAAG${'x'.repeat(40)}` }).send(smsMessage()));
    expect(error).toMatchObject({ retryable: false, code: 'meta_190' });
    expect(error.message).toBe('meta: HTTP 401, code 190, Invalid OAuth access token., fbtrace_id AbCdEf123');
  });

  it.each([
    [400, 131056, true, 'meta_131056'],
    [400, 130429, true, 'meta_130429'],
    [400, 4, true, 'meta_4'],
    [500, 131000, true, 'meta_131000'],
    [503, 133004, true, 'meta_133004'],
    [400, 131026, false, 'meta_131026'],
    [400, 132001, false, 'meta_132001'],
    [400, 132000, false, 'meta_132000'],
    [400, 131047, false, 'meta_131047'],
    [400, 100, false, 'meta_100'],
    [400, 99999, false, 'http_4xx'],
    [429, 99999, true, 'http_429'],
    [502, 99999, true, 'http_5xx'],
  ])('maps HTTP %i with Graph code %i to retryable=%s, metrics code %s', async (status, code, retryable, label) => {
    fake.answer = () =>
      jsonReply(status, { error: { message: `(#${code}) failed for ${CODE}`, type: 'OAuthException', code } });
    await expectFailureWithoutCode(sender().send(smsMessage()), { retryable, code: label }, CODE);
  });

  it('retries after a timeout, and counts a 2xx without a message id as accepted (no second message)', async () => {
    await expectTimeoutRetry(fake, (timeoutMs) => sender({ timeoutMs }).send(smsMessage()), 200);
    fake.answer = () => ({ status: 200, body: 'not json' });
    await expect(sender().send(smsMessage())).resolves.toEqual({ provider: 'meta' });
  });

  it('retries when nothing listens', async () => {
    const error = await deliveryFailure(sender({ baseUrl: 'http://127.0.0.1:9' }).send(smsMessage()));
    expect(error).toMatchObject({ retryable: true, code: 'network' });
  });
});

describe('TwilioSmsSender as the WhatsApp sender against a fake Twilio', () => {
  const CONTENT_EN = `HX${'a'.repeat(32)}`;
  const { sid, token, fake } = fakeTwilioAccount();
  const clock = new ManualClock('2026-12-01T12:00:00Z');
  const sender = (options: Partial<TwilioSmsSenderOptions> = {}) =>
    new TwilioSmsSender(
      {
        name: 'twilio-whatsapp',
        baseUrl: fake.url,
        accountSid: sid,
        authToken: token,
        from: '+15005550006',
        timeoutMs: 2_000,
        whatsapp: { contentSids: new Map([['en', CONTENT_EN]]) },
        ...options,
      },
      clock,
    );

  it('sends the approved template with the code as variable 1, between whatsapp: addresses', async () => {
    const accepted = await sender({
      statusCallbackUrl: 'https://verify.example.com/v2/sms/receipts/twilio-whatsapp',
    }).send(smsMessage({ senderId: 'MyApp' }));
    expect(fake.created).toHaveLength(1);
    expect(accepted).toEqual({ provider: 'twilio-whatsapp', providerMessageId: fake.created[0].sid });
    expect(fake.created[0]).toMatchObject({ resource: 'Messages' });
    expect(fake.created[0].form).toEqual({
      To: 'whatsapp:+41791234567',
      From: 'whatsapp:+15005550006',
      ContentSid: CONTENT_EN,
      ContentVariables: JSON.stringify({ 1: CODE }),
      ValidityPeriod: '300',
      StatusCallback: 'https://verify.example.com/v2/sms/receipts/twilio-whatsapp',
    });
  });

  it('sends the text as the body when no Content SID is configured, rendering one for a message without', async () => {
    await sender({ whatsapp: {} }).send(smsMessage());
    const text = (message: { code: string; language?: string }) => `${message.code} (${message.language})`;
    await sender({ whatsapp: { text } }).send(smsMessage({ text: '', language: 'de' }));
    expect(fake.created[0].form).toMatchObject({ To: 'whatsapp:+41791234567', Body: smsMessage().text });
    expect(fake.created[0].form.ContentSid).toBeUndefined();
    expect(fake.created[1].form.Body).toBe(`${CODE} (de)`);
  });

  itHandlesTwilioFailures(fake, sender, [
    [400, 63016, false, 'twilio_63016'],
    [400, 63003, false, 'twilio_63003'],
    [429, 63018, true, 'twilio_63018'],
    [429, 20429, true, 'twilio_20429'],
    [503, 20503, true, 'twilio_20503'],
    [400, 99999, false, 'http_4xx'],
  ]);
});
