import { generateKeyPairSync, randomUUID } from 'node:crypto';
import { BUILT_IN_VOICE_LANGUAGES, BUILT_IN_VOICE_TEMPLATES, VoiceTexts } from '../../src/phone/sms/channel-texts';
import { TwilioCallSender, TwilioCallSenderOptions } from '../../src/phone/sms/twilio-call-sender';
import { VonageVoiceSender, VonageVoiceSenderOptions, vonagePrivateKey } from '../../src/phone/sms/vonage-voice-sender';
import {
  expectTimeoutRetry,
  fakeTwilioAccount,
  itHandlesTwilioFailures,
  jsonReply,
} from '../support/channel-sender-cases';
import { FakeVonageVoice } from '../support/fake-channels';
import { ManualClock } from '../support/fakes/clock';
import { deliveryFailure, smsMessage } from '../support/sms-messages';

const CODE = '482913';
const SPOKEN_EN = 'Your verification code is 4, 8, 2, 9, 1, 3.';
const SPOKEN_DE = 'Ihr Bestätigungscode lautet 4, 8, 2, 9, 1, 3.';
const texts = new VoiceTexts(
  { ...BUILT_IN_VOICE_TEMPLATES, fr: 'Votre code est {{code}}. <fin> & merci' },
  new Map([...BUILT_IN_VOICE_LANGUAGES, ['fr', 'fr-FR']]),
);

describe(`${TwilioCallSender.name} against a fake Twilio`, () => {
  const { sid, token, fake } = fakeTwilioAccount();
  const sender = (options: Partial<TwilioCallSenderOptions> = {}) =>
    new TwilioCallSender(
      { baseUrl: fake.url, accountSid: sid, authToken: token, from: '+15005550006', timeoutMs: 2_000, ...options },
      texts,
    );

  it('creates a Call whose inline TwiML says the code digit by digit, twice, in the language of the words', async () => {
    const callback = 'https://verify.example.com/v2/sms/receipts/twilio-voice';
    const accepted = await sender({ statusCallbackUrl: callback }).send(smsMessage({ language: 'de-AT' }));
    expect(fake.created).toHaveLength(1);
    expect(accepted).toEqual({ provider: 'twilio-voice', providerMessageId: fake.created[0].sid });
    const say = `<Say language="de-DE">${SPOKEN_DE}</Say>`;
    expect(fake.created[0]).toMatchObject({ resource: 'Calls' });
    expect(fake.created[0].form).toEqual({
      To: '+41791234567',
      From: '+15005550006',
      Twiml: `<Response>${say}<Pause length="1"/>${say}</Response>`,
      Timeout: '30',
      TimeLimit: '90',
      StatusCallback: callback,
      StatusCallbackEvent: 'completed',
    });
  });

  it("escapes a template's text for XML and falls back to English", async () => {
    await sender().send(smsMessage({ language: 'fr' }));
    await sender().send(smsMessage({ language: 'it' }));
    expect(fake.created[0].form.Twiml).toContain(
      '<Say language="fr-FR">Votre code est 4, 8, 2, 9, 1, 3. &lt;fin&gt; &amp; merci</Say>',
    );
    expect(fake.created[1].form.Twiml).toContain(`<Say language="en-US">${SPOKEN_EN}</Say>`);
  });

  itHandlesTwilioFailures(fake, sender, [
    [400, 21211, false, 'twilio_21211'],
    [400, 21214, false, 'twilio_21214'],
    [400, 21215, false, 'twilio_21215'],
    [400, 21210, false, 'twilio_21210'],
    [429, 20429, true, 'twilio_20429'],
    [500, 20500, true, 'twilio_20500'],
    [400, 99999, false, 'http_4xx'],
    [502, 99999, true, 'http_5xx'],
  ]);
});

describe(`${VonageVoiceSender.name} against a fake Vonage Voice API`, () => {
  const APPLICATION = randomUUID();
  const keys = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const privatePem = keys.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
  const publicPem = keys.publicKey.export({ type: 'spki', format: 'pem' }).toString();
  const fake = new FakeVonageVoice(APPLICATION, publicPem);
  const clock = new ManualClock(new Date().toISOString());
  let options: VonageVoiceSenderOptions;
  const sender = (overrides: Partial<VonageVoiceSenderOptions> = {}) =>
    new VonageVoiceSender({ ...options, ...overrides }, texts, clock);

  beforeAll(async () => {
    await fake.start();
    options = {
      baseUrl: fake.url,
      applicationId: APPLICATION,
      privateKey: await vonagePrivateKey(privatePem),
      from: '+15005550006',
      timeoutMs: 2_000,
    };
  });
  afterAll(() => fake.close());
  beforeEach(() => {
    fake.calls.length = 0;
    fake.answer = undefined;
  });

  it('creates a call with an NCCO that talks the code twice, signed with a JWT of the application', async () => {
    const eventUrl = 'https://verify.example.com/v2/sms/receipts/vonage-voice';
    const accepted = await sender({ eventUrl }).send(smsMessage({ language: 'en' }));
    expect(fake.calls).toHaveLength(1);
    expect(accepted).toEqual({ provider: 'vonage-voice', providerMessageId: fake.calls[0].uuid });
    const talk = { action: 'talk', text: SPOKEN_EN, language: 'en-US' };
    expect(fake.calls[0].body).toEqual({
      to: [{ type: 'phone', number: '41791234567' }],
      from: { type: 'phone', number: '15005550006' },
      ncco: [talk, talk],
      ringing_timer: 30,
      length_timer: 90,
      event_url: [eventUrl],
      event_method: 'POST',
    });
    const claims = fake.calls[0].claims;
    expect(claims).toMatchObject({ application_id: APPLICATION });
    expect(Number(claims.exp) - Number(claims.iat)).toBe(300);
    expect(typeof claims.jti).toBe('string');
  });

  it('is refused (final) with a key of another application', async () => {
    const other = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey;
    const privateKey = await vonagePrivateKey(other.export({ type: 'pkcs8', format: 'pem' }).toString());
    const error = await deliveryFailure(sender({ privateKey }).send(smsMessage()));
    expect(error).toMatchObject({ retryable: false, code: 'http_4xx' });
    expect(error.message).toBe('vonage-voice: HTTP 401, Unauthorized, Unauthorized');
  });

  it.each([
    [400, false, 'http_4xx'],
    [403, false, 'http_4xx'],
    [429, true, 'http_429'],
    [500, true, 'http_5xx'],
    [503, true, 'http_5xx'],
  ])(
    'maps HTTP %i to retryable=%s, metrics code %s, without the code in the reason',
    async (status, retryable, label) => {
      fake.answer = () => jsonReply(status, { type: 'about:blank', title: 'Refused', detail: `no call for ${CODE}` });
      const error = await deliveryFailure(sender().send(smsMessage()));
      expect(error).toMatchObject({ retryable, code: label });
      expect(error.message).toBe(`vonage-voice: HTTP ${status}, Refused, no call for ***`);
    },
  );

  it('retries after a timeout', async () => {
    await expectTimeoutRetry(fake, (timeoutMs) => sender({ timeoutMs }).send(smsMessage()), 201);
  });
});
