import { OneOf, Optional, Pattern, Setting, SettingsGroup, Text } from '../../common/config/setting';
import { BUILT_IN_VOICE_LANGUAGES, BUILT_IN_VOICE_TEMPLATES, LanguageMap, parseLanguageMap } from './channel-texts';
import { parseSmsTemplates, SmsTemplates } from './sms-templates';
import type { TwilioSettings } from './twilio.settings';
import type { VonageSettings } from './vonage.settings';

export const VOICE_PROVIDERS = ['twilio', 'vonage'] as const;
const TTS_LANGUAGE = /^[a-z]{2,3}-[A-Za-z0-9]{2,8}$/;
const E164 = /^\+[1-9]\d{1,14}$/;

@SettingsGroup(
  'Voice',
  'The voice channel ([Voice](sms-providers.md#voice)): a call that reads the code twice, through Twilio or Vonage (their account settings above).',
)
export class VoiceSettings {
  @Setting('VOICE_PROVIDER', '`twilio` or `vonage`; unset, no code goes by a call')
  @Optional()
  @OneOf(VOICE_PROVIDERS, 'twilio or vonage')
  readonly provider?: 'twilio' | 'vonage' = undefined;

  @Setting(
    'VOICE_TEMPLATES',
    'JSON object of what the call says by language, each containing `{{code}}` (read digit by digit)',
    {
      default: 'built in (en, de)',
    },
  )
  @Optional()
  @Text('a JSON object of language tag to template')
  readonly templates?: string = undefined;

  @Setting('VOICE_LANGUAGES', 'text-to-speech language per template language, `en=en-US;fr=fr-FR`', {
    default: 'en=en-US;de=de-DE',
  })
  @Optional()
  @Pattern(/^[^\s]+(\s*;\s*[^\s]+)*;?$/, 'language=BCP-47 tag entries separated by ;')
  readonly languages?: string = undefined;

  @Setting('TWILIO_VOICE_FROM', 'the Twilio number that calls (E.164)')
  @Optional()
  @Pattern(E164, 'an E.164 number such as +41791234567')
  readonly twilioFrom?: string = undefined;

  @Setting('VONAGE_VOICE_BASE_URL', 'Vonage Voice API base URL')
  @Pattern(/^https?:\/\/[^\s/?#@]+\/?$/, 'an http(s) origin such as https://api.nexmo.com')
  readonly vonageBaseUrl: string = 'https://api.nexmo.com';

  @Setting('VONAGE_APPLICATION_ID', 'the Vonage application (with Voice) whose key signs the calls')
  @Optional()
  @Pattern(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i, 'a UUID')
  readonly vonageApplicationId?: string = undefined;

  @Setting('VONAGE_PRIVATE_KEY_FILE', "the application's private key (PEM, PKCS #8)")
  @Optional()
  @Text('a file path')
  readonly vonagePrivateKeyFile?: string = undefined;

  @Setting('VONAGE_VOICE_FROM', 'the Vonage number that calls (E.164)')
  @Optional()
  @Pattern(E164, 'an E.164 number such as +41791234567')
  readonly vonageFrom?: string = undefined;

  /** VOICE_TEMPLATES over the built-ins; call only on settings without problems. */
  voiceTemplates(): SmsTemplates {
    return { ...BUILT_IN_VOICE_TEMPLATES, ...(this.templates ? parseSmsTemplates(this.templates) : {}) };
  }

  /** VOICE_LANGUAGES over the built-ins; call only on settings without problems. */
  voiceLanguages(): LanguageMap {
    const read = this.languages ? parseLanguageMap(this.languages, TTS_LANGUAGE, 'en-US') : new Map<string, string>();
    return new Map([...BUILT_IN_VOICE_LANGUAGES, ...(typeof read === 'string' ? [] : read)]);
  }

  /** The request timeout of the configured provider (0 when none). */
  timeoutMs(twilio: TwilioSettings, vonage: VonageSettings): number {
    return this.provider === 'twilio' ? twilio.timeoutMs : this.provider === 'vonage' ? vonage.timeoutMs : 0;
  }

  /** What the configured provider lacks; the accounts are Twilio's and Vonage's SMS settings. */
  problemsWith(twilio: TwilioSettings, production: boolean): string[] {
    const by = `VOICE_PROVIDER=${this.provider}`;
    const problems: string[] = [];
    if (this.templates) {
      try {
        parseSmsTemplates(this.templates);
      } catch (error) {
        problems.push(`VOICE_TEMPLATES: ${(error as Error).message}`);
      }
    }
    const languages = this.languages && parseLanguageMap(this.languages, TTS_LANGUAGE, 'en-US');
    if (typeof languages === 'string') problems.push(`VOICE_LANGUAGES: ${languages}`);
    if (this.provider === 'twilio') {
      if (!twilio.accountSid) problems.push(`TWILIO_ACCOUNT_SID: required when ${by}`);
      if (!twilio.authToken) problems.push(`TWILIO_AUTH_TOKEN: required when ${by}`);
      if (!this.twilioFrom) problems.push(`TWILIO_VOICE_FROM: required when ${by}`);
      if (production && !twilio.baseUrl.startsWith('https://')) {
        problems.push('TWILIO_BASE_URL: must be https:// when NODE_ENV=production');
      }
    }
    if (this.provider === 'vonage') {
      if (!this.vonageApplicationId) problems.push(`VONAGE_APPLICATION_ID: required when ${by}`);
      if (!this.vonagePrivateKeyFile) problems.push(`VONAGE_PRIVATE_KEY_FILE: required when ${by}`);
      if (!this.vonageFrom) problems.push(`VONAGE_VOICE_FROM: required when ${by}`);
      if (production && !this.vonageBaseUrl.startsWith('https://')) {
        problems.push('VONAGE_VOICE_BASE_URL: must be https:// when NODE_ENV=production');
      }
    }
    return problems;
  }
}
