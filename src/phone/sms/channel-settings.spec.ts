import { validateEnvironment } from '../../app.config';
import { ConfigError } from '../../common/config/config-error';
import { VoiceTexts } from './channel-texts';

const problemsOf = (env: Record<string, string>): string[] => {
  try {
    validateEnvironment(env);
    return [];
  } catch (error) {
    if (error instanceof ConfigError) return error.problems;
    throw error;
  }
};

const TWILIO = { TWILIO_ACCOUNT_SID: `AC${'0'.repeat(32)}`, TWILIO_AUTH_TOKEN: 'a'.repeat(32) };

describe('WhatsApp and voice settings', () => {
  it('takes nothing when neither channel is configured', () => {
    expect(problemsOf({})).toEqual([]);
  });

  it('names what WhatsApp through Meta lacks, and reads META_TEMPLATE_LANGUAGES', () => {
    expect(problemsOf({ WHATSAPP_PROVIDER: 'meta', META_TEMPLATE_LANGUAGES: 'en=en-US' })).toEqual([
      'META_PHONE_NUMBER_ID: required when WHATSAPP_PROVIDER=meta',
      'META_ACCESS_TOKEN: required when WHATSAPP_PROVIDER=meta',
      'META_TEMPLATE_NAME: required when WHATSAPP_PROVIDER=meta',
      'META_TEMPLATE_LANGUAGES: en: "en-US" is not en_US',
    ]);
    const config = validateEnvironment({
      WHATSAPP_PROVIDER: 'meta',
      META_PHONE_NUMBER_ID: '106540352242922',
      META_ACCESS_TOKEN: 'EAAG'.padEnd(40, 'x'),
      META_TEMPLATE_NAME: 'verify_code',
      META_TEMPLATE_LANGUAGES: 'en=en_US; de-CH=de',
    });
    expect([...config.sms.whatsapp.templateLanguages()]).toEqual([
      ['en', 'en_US'],
      ['de-ch', 'de'],
    ]);
  });

  it("uses Twilio's account for WhatsApp and voice, each with a sender of its own", () => {
    expect(problemsOf({ WHATSAPP_PROVIDER: 'twilio', VOICE_PROVIDER: 'twilio' })).toEqual([
      'TWILIO_ACCOUNT_SID: required when WHATSAPP_PROVIDER=twilio',
      'TWILIO_AUTH_TOKEN: required when WHATSAPP_PROVIDER=twilio',
      'TWILIO_WHATSAPP_FROM: required when WHATSAPP_PROVIDER=twilio',
      'TWILIO_ACCOUNT_SID: required when VOICE_PROVIDER=twilio',
      'TWILIO_AUTH_TOKEN: required when VOICE_PROVIDER=twilio',
      'TWILIO_VOICE_FROM: required when VOICE_PROVIDER=twilio',
    ]);
    expect(
      problemsOf({
        ...TWILIO,
        WHATSAPP_PROVIDER: 'twilio',
        TWILIO_WHATSAPP_FROM: '+15005550006',
        TWILIO_WHATSAPP_CONTENT_SIDS: 'en=HX12',
      }),
    ).toEqual(['TWILIO_WHATSAPP_CONTENT_SIDS: en: "HX12" is not HX…']);
  });

  it('names what voice through Vonage lacks, and refuses voice templates it cannot use', () => {
    expect(
      problemsOf({ VOICE_PROVIDER: 'vonage', VOICE_TEMPLATES: '{"fr": "Votre code"}', VOICE_LANGUAGES: 'fr=french' }),
    ).toEqual([
      'VOICE_TEMPLATES: the template for "fr" must contain {{code}}',
      'VOICE_LANGUAGES: fr: "french" is not en-US',
      'VONAGE_APPLICATION_ID: required when VOICE_PROVIDER=vonage',
      'VONAGE_PRIVATE_KEY_FILE: required when VOICE_PROVIDER=vonage',
      'VONAGE_VOICE_FROM: required when VOICE_PROVIDER=vonage',
    ]);
  });

  it("wants SMS_SEND_LEASE above the channel provider's timeout plus 5s", () => {
    const meta = {
      WHATSAPP_PROVIDER: 'meta',
      META_PHONE_NUMBER_ID: '106540352242922',
      META_ACCESS_TOKEN: 'EAAG'.padEnd(40, 'x'),
      META_TEMPLATE_NAME: 'verify_code',
    };
    expect(problemsOf({ ...meta, META_TIMEOUT: '55s' })).toEqual([]);
    expect(problemsOf({ ...meta, META_TIMEOUT: '56s' })).toEqual([
      "SMS_SEND_LEASE: must exceed the WhatsApp and voice providers' timeouts plus 5s (61s)",
    ]);
    expect(problemsOf({ ...meta, META_TIMEOUT: '56s', SMS_SEND_LEASE: '2m' })).toEqual([]);
  });

  it('refuses an unknown provider and an http:// Meta URL in production', () => {
    expect(problemsOf({ WHATSAPP_PROVIDER: 'signal' })).toEqual([
      'WHATSAPP_PROVIDER: WHATSAPP_PROVIDER must be twilio or meta',
    ]);
    const production = { NODE_ENV: 'production', CODE_HMAC_KEY: 'k'.repeat(44), SMS_PROVIDER: 'none' };
    expect(
      problemsOf({
        ...production,
        WHATSAPP_PROVIDER: 'meta',
        META_GRAPH_BASE_URL: 'http://graph.example.test',
        META_PHONE_NUMBER_ID: '106540352242922',
        META_ACCESS_TOKEN: 'EAAG'.padEnd(40, 'x'),
        META_TEMPLATE_NAME: 'verify_code',
      }),
    ).toEqual(['META_GRAPH_BASE_URL: must be https:// when NODE_ENV=production']);
  });
});

describe(VoiceTexts.name, () => {
  const texts = new VoiceTexts(
    { en: 'Your code is {{code}}.', fr: 'Votre code est {{code}}.', 'de-ch': 'Ihr Code: {{code}}.' },
    new Map([
      ['en', 'en-GB'],
      ['de', 'de-CH'],
    ]),
  );

  it('reads the code character by character in the best-matching language, with its voice', () => {
    expect(texts.render('48A2', 'de-CH')).toEqual({ text: 'Ihr Code: 4, 8, A, 2.', language: 'de-CH' });
    expect(texts.render('48A2', 'es')).toEqual({ text: 'Your code is 4, 8, A, 2.', language: 'en-GB' });
    // French words without a French voice: the provider's default voice, never an English one
    expect(texts.render('48A2', 'fr-CA')).toEqual({ text: 'Votre code est 4, 8, A, 2.', language: undefined });
  });

  it('names a template too long to say with the longest code', () => {
    const long = new VoiceTexts({ en: `{{code}} ${'x'.repeat(1450)}` }, new Map());
    expect(long.problems(6)).toEqual([]);
    expect(long.problems(20)).toEqual(['VOICE_TEMPLATES: the template for "en" is longer than 1500 characters']);
  });
});
