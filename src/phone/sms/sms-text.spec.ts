import { validateEnvironment } from '../../app.config';
import { ConfigError } from '../../common/config/config-error';
import type { SmsSettings } from './sms.settings';
import { BUILT_IN_SMS_TEMPLATES, parseSmsTemplates, renderSmsText, SmsText } from './sms-text';

const EN = '482913 is your code to verify your phone number. Do not share it with anyone.';
const DE = '482913 ist Ihr Code zur Verifizierung Ihrer Telefonnummer. Geben Sie ihn nicht weiter.';

/** GSM 03.38 default alphabet (one septet each) and its extension table (two septets each). */
const GSM7_BASIC =
  '@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !"#¤%&\'()*+,-./0123456789:;<=>?¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà';
const GSM7_EXTENDED = '^{}\\[~]|€\f';

/** Septets needed in GSM-7, or undefined when the text needs UCS-2. */
function gsm7Length(text: string): number | undefined {
  let length = 0;
  for (const char of text) {
    if (GSM7_BASIC.includes(char)) length += 1;
    else if (GSM7_EXTENDED.includes(char)) length += 2;
    else return undefined;
  }
  return length;
}

function smsTextFor(env: Record<string, string> = {}): SmsText {
  const config = validateEnvironment(env);
  return new SmsText(config.sms, config.codes);
}

/** The ConfigError an SmsText with these settings stops the start with, or undefined. */
function startProblem(env: Record<string, string>): ConfigError | undefined {
  try {
    smsTextFor(env);
    return undefined;
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return error as ConfigError;
  }
}

describe(SmsText.name, () => {
  it.each([
    ['en', EN],
    ['en-US', EN],
    ['de', DE],
    ['de-CH', DE],
    ['DE_ch', DE],
    ['de-Latn-AT', DE],
    ['fr', EN],
    ['', EN],
    [null, EN],
    [undefined, EN],
    ['not a language!', EN],
  ])('renders language %p in the best-matching built-in language', (language, expected) => {
    expect(smsTextFor().render({ code: '482913', language })).toBe(expected);
  });

  it('appends the web-OTP line "@<domain> #<code>" as the last line when SMS_WEBOTP_DOMAIN is set', () => {
    const text = smsTextFor({ SMS_WEBOTP_DOMAIN: 'accounts.example.com' }).render({ code: '482913', language: 'en' });
    expect(text).toBe(`${EN}\n\n@accounts.example.com #482913`);
    expect(text.split('\n').at(-1)).toBe('@accounts.example.com #482913');
  });

  it('takes templates from SMS_TEMPLATES over the built-ins, keeping the other built-ins', () => {
    const texts = smsTextFor({
      SMS_TEMPLATES: JSON.stringify({
        fr: 'Votre code : {{code}}. Ne le partagez pas.',
        'de-CH': 'Grüezi {{ displayName }}, Ihr Code: {{code}}',
        EN: 'Code {{code}} for {{displayName}}.',
      }),
      SMS_WEBOTP_DOMAIN: 'example.com',
    });
    expect(texts.render({ code: '123456', language: 'fr-CA' })).toBe(
      'Votre code : 123456. Ne le partagez pas.\n\n@example.com #123456',
    );
    expect(texts.render({ code: '123456', language: 'de-ch', displayName: 'Anna Muster' })).toBe(
      'Grüezi Anna Muster, Ihr Code: 123456\n\n@example.com #123456',
    );
    expect(texts.render({ code: '123456', language: 'de-AT' })).toBe(
      `${DE.replace('482913', '123456')}\n\n@example.com #123456`,
    );
    expect(texts.render({ code: '123456', language: 'es', displayName: 'Ana' })).toBe(
      'Code 123456 for Ana.\n\n@example.com #123456',
    );
  });

  it('keeps a display name on one line, bounded, and never expands placeholders inside it', () => {
    const texts = smsTextFor({ SMS_TEMPLATES: '{"en": "Hi {{displayName}}: {{code}}"}' });
    expect(texts.render({ code: '1', displayName: 'Eve\n@evil.example #1\u202e\u0000 {{code}}' })).toBe(
      'Hi Eve @evil.example #1 {{code}}: 1',
    );
    expect(texts.render({ code: '1', displayName: 'x'.repeat(500) })).toBe(`Hi ${'x'.repeat(50)}: 1`);
    expect(texts.render({ code: '1', displayName: null })).toBe('Hi : 1');
  });

  it('leaves anything but {{code}} and {{displayName}} as it is', () => {
    expect(renderSmsText({ code: '1' }, { en: '{{code}} {{constructor}} {{toString}} {{ x }}' })).toBe(
      '1 {{constructor}} {{toString}} {{ x }}',
    );
  });

  it.each(Object.keys(BUILT_IN_SMS_TEMPLATES))(
    'keeps the built-in %s text in GSM-7 and in one SMS with a 20-character code and a 30-character web-OTP domain',
    (language) => {
      const text = smsTextFor({ SMS_WEBOTP_DOMAIN: 'accounts.example-company.co.uk' }).render({
        code: 'ABCDEFGHJK0123456789',
        language,
      });
      const length = gsm7Length(text);
      expect(length).toBeDefined();
      expect(length).toBeLessThanOrEqual(160);
    },
  );

  it('refuses SMS_TEMPLATES it cannot use', () => {
    expect(() => new SmsText({ templates: '{"en": "no code"}' } as SmsSettings)).toThrow('must contain {{code}}');
  });

  it('checks SMS_TEMPLATES at start-up, with the ConfigError that names the variable', () => {
    const problemsOf = (templates: string): ConfigError | undefined => {
      try {
        smsTextFor({ SMS_TEMPLATES: templates });
        return undefined;
      } catch (error) {
        expect(error).toBeInstanceOf(ConfigError);
        return error as ConfigError;
      }
    };
    const missingCode = problemsOf('{"en": "{{code}}", "fr": "Votre code"}');
    expect(missingCode?.message).toBe(
      'Invalid configuration:\n  SMS_TEMPLATES: the template for "fr" must contain {{code}}',
    );
    expect(missingCode?.settings).toEqual(['SMS_TEMPLATES']);
    expect(problemsOf('{en: 1}')?.message).toContain('SMS_TEMPLATES: must be a JSON object');
    expect(problemsOf('{"fr": "Votre code : {{code}}"}')).toBeUndefined();
  });
});

describe('SMS_ANDROID_APP_HASH and one segment', () => {
  const HASH = 'FA+9qCX9VSu';

  it('puts the app hash on its own line after the text and before the WebOTP line, which stays last', () => {
    const text = smsTextFor({ SMS_ANDROID_APP_HASH: HASH, SMS_WEBOTP_DOMAIN: 'example.com' }).render({
      code: '482913',
      language: 'en',
    });
    expect(text).toBe(`${EN}\n\n${HASH}\n@example.com #482913`);
    expect(smsTextFor({ SMS_ANDROID_APP_HASH: HASH }).render({ code: '482913', language: 'de' })).toBe(
      `${DE}\n\n${HASH}`,
    );
  });

  it.each([['FA+9qCX9VS'], ['FA+9qCX9VSuX'], ['FA+9qCX9VS_'], ['FA+9qCX9VS=']])('refuses the app hash %p', (hash) => {
    expect(() => validateEnvironment({ SMS_ANDROID_APP_HASH: hash })).toThrow(
      'SMS_ANDROID_APP_HASH: SMS_ANDROID_APP_HASH must be 11 characters of base64',
    );
  });

  it('refuses the start with one problem naming each template that cannot fit one segment', () => {
    // 126 (code and text) + 2 (blank line) + 11 (hash) + 1 (newline) + 20 ("@example.com #" and code) = 160
    const fits = `{{code}}${'x'.repeat(120)}`;
    const env = { SMS_ANDROID_APP_HASH: HASH, SMS_WEBOTP_DOMAIN: 'example.com' };
    expect(startProblem({ ...env, SMS_TEMPLATES: JSON.stringify({ fr: fits }) })).toBeUndefined();
    const tooLong = startProblem({ ...env, SMS_TEMPLATES: JSON.stringify({ fr: `${fits}x`, it: fits }) });
    expect(tooLong?.problems).toEqual([
      'SMS_TEMPLATES: the template for "fr" with a 6-character code, the app hash and the WebOTP line takes 161 GSM-7 characters; one SMS segment holds 160',
    ]);
    // the same template is too long for a longer code
    expect(
      startProblem({ ...env, PHONE_CODE_LENGTH: '7', SMS_TEMPLATES: JSON.stringify({ fr: fits }) })?.problems,
    ).toHaveLength(1);
  });

  it('counts a GSM-7 extension character twice and measures a text with any other character as UCS-2 (70)', () => {
    expect(startProblem({ SMS_TEMPLATES: JSON.stringify({ en: `{{code}}${'€'.repeat(77)}` }) })).toBeUndefined();
    expect(startProblem({ SMS_TEMPLATES: JSON.stringify({ en: `{{code}}${'€'.repeat(78)}` }) })?.problems).toEqual([
      'SMS_TEMPLATES: the template for "en" with a 6-character code takes 162 GSM-7 characters; one SMS segment holds 160',
    ]);
    const cyrillic = (n: number) => JSON.stringify({ ru: `Код {{code}}${'ж'.repeat(n)}` });
    expect(startProblem({ SMS_TEMPLATES: cyrillic(60) })).toBeUndefined();
    expect(startProblem({ SMS_TEMPLATES: cyrillic(61) })?.problems).toEqual([
      'SMS_TEMPLATES: the template for "ru" with a 6-character code takes 71 UCS-2 characters; one SMS segment holds 70',
    ]);
  });

  it('cuts a display name to what keeps the text in one segment', () => {
    const template = `{{displayName}}: {{code}} ${'x'.repeat(120)}`;
    const text = smsTextFor({ SMS_TEMPLATES: JSON.stringify({ en: template }) }).render({
      code: '482913',
      displayName: 'A long display name of fifty characters, or nearly',
    });
    expect(gsm7Length(text)).toBe(160);
    expect(text.startsWith('A long display name of fifty ch')).toBe(true);
  });
});

describe(parseSmsTemplates.name, () => {
  it('lower-cases the language tags', () => {
    expect(parseSmsTemplates('{"de-CH": "{{code}}", "fr": "Code {{ code }}"}')).toEqual({
      'de-ch': '{{code}}',
      fr: 'Code {{ code }}',
    });
  });

  it.each([
    ['text that is not JSON', 'not json', 'must be a JSON object'],
    ['an array', '["{{code}}"]', 'must be a JSON object'],
    ['a string', '"{{code}}"', 'must be a JSON object'],
    ['a template without {{code}}', '{"en": "Your code"}', 'the template for "en" must contain {{code}}'],
    ['a template that is not a string', '{"en": 42}', 'the template for "en" must be a string'],
    [
      'an unknown placeholder',
      '{"en": "{{code}} {{name}}"}',
      'the template for "en" uses {{name}}; only {{code}} and {{displayName}} exist',
    ],
    ['a key that is no language tag', '{"english!": "{{code}}"}', '"english!" is not a language tag'],
    ['a template over 1600 characters', `{"en": "{{code}}${'x'.repeat(1600)}"}`, 'at most 1600 characters'],
  ])('refuses %s', (_label, raw, problem) => {
    expect(() => parseSmsTemplates(raw)).toThrow(problem);
  });
});
