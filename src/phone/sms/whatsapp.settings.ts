import { OneOf, Optional, Pattern, ProviderTimeout, Setting, SettingsGroup } from '../../common/config/setting';
import { LanguageMap, parseLanguageMap } from './channel-texts';
import type { TwilioSettings } from './twilio.settings';

export const WHATSAPP_PROVIDERS = ['twilio', 'meta'] as const;
const CONTENT_SID = /^HX[0-9a-fA-F]{32}$/;
/** Meta's template language codes: "en", "en_US", "zh_Hant_HK"… */
const META_LANGUAGE = /^[a-z]{2,3}(_[A-Za-z]{2,4}){0,2}$/;

@SettingsGroup(
  'WhatsApp',
  'The WhatsApp channel ([WhatsApp](sms-providers.md#whatsapp)): Twilio (its account settings above) or Meta’s WhatsApp Cloud API, each with an approved authentication template.',
)
export class WhatsAppSettings {
  @Setting('WHATSAPP_PROVIDER', '`twilio` or `meta`; unset, no code goes by WhatsApp')
  @Optional()
  @OneOf(WHATSAPP_PROVIDERS, 'twilio or meta')
  readonly provider?: 'twilio' | 'meta' = undefined;

  @Setting('TWILIO_WHATSAPP_FROM', 'the WhatsApp sender registered with Twilio (E.164)')
  @Optional()
  @Pattern(/^\+[1-9]\d{1,14}$/, 'an E.164 number such as +41791234567')
  readonly twilioFrom?: string = undefined;

  @Setting(
    'TWILIO_WHATSAPP_CONTENT_SIDS',
    'approved authentication templates per language, `en=HX…;de=HX…` (the code is variable 1); unset, the SMS text goes as the body',
  )
  @Optional()
  @Pattern(/^[^\s]+(\s*;\s*[^\s]+)*;?$/, 'language=Content SID entries separated by ;')
  readonly twilioContentSids?: string = undefined;

  @Setting('META_GRAPH_BASE_URL', 'Meta Graph API base URL')
  @Pattern(/^https?:\/\/[^\s/?#@]+\/?$/, 'an http(s) origin such as https://graph.facebook.com')
  readonly metaBaseUrl: string = 'https://graph.facebook.com';

  @Setting('META_GRAPH_API_VERSION', 'Graph API version in the path')
  @Pattern(/^v\d{1,3}\.\d{1,2}$/, 'a version such as v21.0')
  readonly metaApiVersion: string = 'v21.0';

  @Setting('META_PHONE_NUMBER_ID', 'the WhatsApp business phone number id that sends')
  @Optional()
  @Pattern(/^\d{5,32}$/, 'the digits of a phone number id')
  readonly metaPhoneNumberId?: string = undefined;

  @Setting('META_ACCESS_TOKEN', 'a system user access token with whatsapp_business_messaging')
  @Optional()
  @Pattern(/^\S{20,2048}$/, '20 to 2048 characters without spaces')
  readonly metaAccessToken?: string = undefined;

  @Setting('META_APP_SECRET', 'the app secret: checks X-Hub-Signature-256 of status webhooks (refused without it)')
  @Optional()
  @Pattern(/^\S{16,256}$/, '16 to 256 characters without spaces')
  readonly metaAppSecret?: string = undefined;

  @Setting('META_WEBHOOK_VERIFY_TOKEN', "the verify token set with the app's webhook: answers Meta's GET challenge")
  @Optional()
  @Pattern(/^\S{8,256}$/, '8 to 256 characters without spaces')
  readonly metaVerifyToken?: string = undefined;

  @Setting('META_TEMPLATE_NAME', 'the approved authentication template (body {{1}} and a copy-code button)')
  @Optional()
  @Pattern(/^[a-z0-9_]{1,512}$/, 'lower-case letters, digits and _')
  readonly metaTemplateName?: string = undefined;

  @Setting(
    'META_TEMPLATE_LANGUAGES',
    'user language → the template’s language code, `en=en_US;de=de` (another language: English, else the first)',
  )
  @Pattern(/^[^\s]+(\s*;\s*[^\s]+)*;?$/, 'language=code entries separated by ;')
  readonly metaTemplateLanguages: string = 'en=en_US';

  @Setting('META_TIMEOUT', 'Meta request timeout')
  @ProviderTimeout()
  readonly metaTimeoutMs: number = 5_000;

  /** TWILIO_WHATSAPP_CONTENT_SIDS read (undefined when unset); call only on settings without problems. */
  contentSids(): LanguageMap | undefined {
    const read = this.twilioContentSids ? parseLanguageMap(this.twilioContentSids, CONTENT_SID, 'HX…') : undefined;
    return typeof read === 'string' ? undefined : read;
  }

  /** META_TEMPLATE_LANGUAGES read; call only on settings without problems. */
  templateLanguages(): LanguageMap {
    const read = parseLanguageMap(this.metaTemplateLanguages, META_LANGUAGE, 'en_US');
    return typeof read === 'string' ? new Map([['en', 'en_US']]) : read;
  }

  /** The request timeout of the configured provider (0 when none). */
  timeoutMs(twilio: TwilioSettings): number {
    return this.provider === 'meta' ? this.metaTimeoutMs : this.provider === 'twilio' ? twilio.timeoutMs : 0;
  }

  /** What the configured provider lacks; Twilio's account is TWILIO_ACCOUNT_SID and TWILIO_AUTH_TOKEN. */
  problemsWith(twilio: TwilioSettings, production: boolean): string[] {
    const by = `WHATSAPP_PROVIDER=${this.provider}`;
    const problems: string[] = [];
    if (this.provider === 'twilio') {
      if (!twilio.accountSid) problems.push(`TWILIO_ACCOUNT_SID: required when ${by}`);
      if (!twilio.authToken) problems.push(`TWILIO_AUTH_TOKEN: required when ${by}`);
      if (!this.twilioFrom) problems.push(`TWILIO_WHATSAPP_FROM: required when ${by}`);
      const sids = this.twilioContentSids && parseLanguageMap(this.twilioContentSids, CONTENT_SID, 'HX…');
      if (typeof sids === 'string') problems.push(`TWILIO_WHATSAPP_CONTENT_SIDS: ${sids}`);
      if (production && !twilio.baseUrl.startsWith('https://')) {
        problems.push('TWILIO_BASE_URL: must be https:// when NODE_ENV=production');
      }
    }
    if (this.provider === 'meta') {
      if (!this.metaPhoneNumberId) problems.push(`META_PHONE_NUMBER_ID: required when ${by}`);
      if (!this.metaAccessToken) problems.push(`META_ACCESS_TOKEN: required when ${by}`);
      if (!this.metaTemplateName) problems.push(`META_TEMPLATE_NAME: required when ${by}`);
      const languages = parseLanguageMap(this.metaTemplateLanguages, META_LANGUAGE, 'en_US');
      if (typeof languages === 'string') problems.push(`META_TEMPLATE_LANGUAGES: ${languages}`);
      if (production && !this.metaBaseUrl.startsWith('https://')) {
        problems.push('META_GRAPH_BASE_URL: must be https:// when NODE_ENV=production');
      }
    }
    return problems;
  }
}
