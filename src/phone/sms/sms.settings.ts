import { Group, Optional, Pattern, Setting, SettingsGroup, Text } from '../../common/config/setting';
import type { SettingsContext } from '../../common/config/settings-reader';
import { SmsOutboxSettings } from '../outbox/sms-outbox.settings';
import { MessageBirdSettings } from './messagebird.settings';
import { SnsSettings } from './sns.settings';
import { DEFAULT_ROUTE, parseSenderIds, parseSmsRoutes, providerList, SMS_PROVIDERS } from './sms-routes';
import { TwilioSettings } from './twilio.settings';
import { VoiceSettings } from './voice.settings';
import { VonageSettings } from './vonage.settings';
import { WebhookSettings } from './webhook.settings';
import { WhatsAppSettings } from './whatsapp.settings';

/** What SmsSettings asks of each provider's group. */
export interface ProviderSettings {
  readonly timeoutMs: number;
  /** What is missing or wrong once a chain names the provider; `by` says which setting does. */
  problemsWhenUsed(by: string, production: boolean): string[];
}

const ALTERNATIVES = SMS_PROVIDERS.join('|');
const PROVIDER_LIST = new RegExp(`^\\s*(${ALTERNATIVES})(\\s*,\\s*(${ALTERNATIVES}))*\\s*$`);
const PROVIDER_NAMES = `${SMS_PROVIDERS.slice(0, -1).join(', ')} or ${SMS_PROVIDERS[SMS_PROVIDERS.length - 1]}`;
const isKnown = (name: string) => (SMS_PROVIDERS as readonly string[]).includes(name);

@SettingsGroup(
  'SMS',
  "Which providers send a code, in which order, per destination country ([SMS providers](sms-providers.md)). Each provider's own settings follow; they are read only when `SMS_PROVIDER` or `SMS_ROUTES` names it.",
)
export class SmsSettings {
  @Setting(
    'SMS_PROVIDER',
    '`console`, `none`, `webhook`, `twilio`, `vonage`, `sns`, `messagebird`, or an ordered list for failover',
  )
  @Pattern(PROVIDER_LIST, `${PROVIDER_NAMES}, or a comma-separated list of them (tried in order)`)
  readonly provider: string = 'console';

  @Setting(
    'SMS_ROUTES',
    'provider lists per destination country, `CH=twilio,vonage;US=sns;*=webhook` (`*`: every other country; without it, `SMS_PROVIDER`)',
  )
  @Optional()
  @Text('COUNTRY=providers entries separated by ; (* for every other country)')
  readonly routes?: string = undefined;

  @Setting(
    'SMS_SENDER_IDS',
    'sender id per country, `CH=MyApp;DE=+4915123456789` (an E.164 number, or 1–11 letters, digits and spaces)',
  )
  @Optional()
  @Text('COUNTRY=sender id entries separated by ;')
  readonly senderIds?: string = undefined;

  @Setting(
    'SMS_RECEIPTS_BASE_URL',
    'public base URL of this service (`https://…`, a path prefix allowed): turns on delivery receipts at `<base>/v2/sms/receipts/<provider>` (docs/sms-providers.md)',
  )
  @Optional()
  @Pattern(/^https?:\/\/[^\s/?#@]+(\/[^\s?#]*)?$/, 'an http(s) URL without credentials, query or fragment')
  readonly receiptsBaseUrl?: string = undefined;

  @Setting('SMS_TEMPLATES', 'JSON object of message templates by language, each containing `{{code}}`', {
    default: 'built in (en, de)',
  })
  @Optional()
  @Text('a JSON object of language tag to template')
  readonly templates?: string = undefined;

  @Setting('SMS_WEBOTP_DOMAIN', 'adds the Web OTP line `@<domain> #<code>` to messages')
  @Optional()
  @Pattern(
    /^(?=.{1,253}$)[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$/,
    'a lower-case host name such as example.com (no scheme, port or path)',
  )
  readonly webOtpDomain?: string = undefined;

  @Setting(
    'SMS_ANDROID_APP_HASH',
    "the Android app's 11-character hash for the SMS Retriever API, added on its own line before the Web OTP line",
  )
  @Optional()
  @Pattern(/^[A-Za-z0-9+/]{11}$/, '11 characters of base64 (letters, digits, + and /), as computed for the app')
  readonly androidAppHash?: string = undefined;

  @Group(() => SmsOutboxSettings)
  readonly outbox: SmsOutboxSettings;

  @Group(() => WebhookSettings)
  readonly webhook: WebhookSettings;

  @Group(() => TwilioSettings)
  readonly twilio: TwilioSettings;

  @Group(() => VonageSettings)
  readonly vonage: VonageSettings;

  @Group(() => SnsSettings)
  readonly sns: SnsSettings;

  @Group(() => MessageBirdSettings)
  readonly messagebird: MessageBirdSettings;

  @Group(() => WhatsAppSettings)
  readonly whatsapp: WhatsAppSettings;

  @Group(() => VoiceSettings)
  readonly voice: VoiceSettings;

  /** The settings of a provider that has any (console and none have none). */
  providerSettings(name: string): ProviderSettings | undefined {
    const providers: Record<string, ProviderSettings> = {
      webhook: this.webhook,
      twilio: this.twilio,
      vonage: this.vonage,
      sns: this.sns,
      messagebird: this.messagebird,
    };
    return providers[name];
  }

  /** SMS_PROVIDER's list and SMS_ROUTES' lists, and the settings of each provider they name. */
  problems({ production }: SettingsContext): string[] {
    const problems: string[] = [];
    const names = providerList(this.provider);
    if (!names.every(isKnown)) return problems; // its validator said so
    const routes = this.routeProblems(problems);
    if (problems.length > 0) return problems;
    const senderIds = this.senderIds ? parseSenderIds(this.senderIds) : undefined;
    if (typeof senderIds === 'string') problems.push(`SMS_SENDER_IDS: ${senderIds}`);
    // the chains in use: SMS_PROVIDER's unless SMS_ROUTES has its own default
    const chains: { where: string; names: string[] }[] = [];
    if (!routes?.has(DEFAULT_ROUTE)) chains.push({ where: 'SMS_PROVIDER', names });
    for (const [country, list] of routes ?? []) chains.push({ where: `SMS_ROUTES: ${country}`, names: list });
    for (const chain of chains) problems.push(...chainProblems(chain.where, chain.names, production));

    // a delivery must end (every provider of its chain timing out) before its lease does, or another instance resends it
    const timeout = (name: string) => this.providerSettings(name)?.timeoutMs ?? 0;
    const worstDelivery = Math.max(...chains.map((chain) => chain.names.reduce((sum, n) => sum + timeout(n), 0)));
    if (worstDelivery + 5_000 > this.outbox.sendLeaseMs) {
      problems.push(
        `SMS_SEND_LEASE: must exceed the providers' timeouts together plus 5s (${(worstDelivery + 5_000) / 1000}s), ` +
          'or a slow delivery could be taken over and sent twice',
      );
    }
    const used = [...new Set(chains.flatMap((chain) => chain.names))];
    for (const name of SMS_PROVIDERS.filter((provider) => used.includes(provider))) {
      // which setting brings a provider in: SMS_PROVIDER when its chain is in use and names it, else SMS_ROUTES
      const by = chains.some((chain) => chain.where === 'SMS_PROVIDER' && chain.names.includes(name))
        ? `SMS_PROVIDER includes ${name}`
        : `SMS_ROUTES includes ${name}`;
      problems.push(...(this.providerSettings(name)?.problemsWhenUsed(by, production) ?? []));
      if (name === 'sns') problems.push(...this.snsSenderIdProblems(routes, names));
    }
    problems.push(...this.channelProblems(production, problems));
    if (production && this.receiptsBaseUrl && !this.receiptsBaseUrl.startsWith('https://')) {
      problems.push('SMS_RECEIPTS_BASE_URL: must be https:// when NODE_ENV=production');
    }
    return problems;
  }

  /** WhatsApp's and voice's providers (they share Twilio's and Vonage's accounts), each said once. */
  private channelProblems(production: boolean, already: string[]): string[] {
    const found = [
      ...this.whatsapp.problemsWith(this.twilio, production),
      ...this.voice.problemsWith(this.twilio, production),
    ];
    const slowest = Math.max(this.whatsapp.timeoutMs(this.twilio), this.voice.timeoutMs(this.twilio, this.vonage));
    if (slowest > 0 && slowest + 5_000 > this.outbox.sendLeaseMs) {
      found.push(
        `SMS_SEND_LEASE: must exceed the WhatsApp and voice providers' timeouts plus 5s (${(slowest + 5_000) / 1000}s)`,
      );
    }
    return [...new Set(found)].filter((problem) => !already.includes(problem));
  }

  /** SMS_ROUTES as a list of problems, or the routes when it reads (undefined when unset). */
  private routeProblems(problems: string[]): Map<string, string[]> | undefined {
    if (!this.routes) return undefined;
    const routes = parseSmsRoutes(this.routes);
    if (typeof routes === 'string') {
      problems.push(
        `SMS_ROUTES: ${routes}; write entries such as CH=twilio,vonage;US=sns;*=webhook (an ISO country code or *, then providers tried in order)`,
      );
      return undefined;
    }
    for (const [country, names] of routes) {
      const unknown = names.filter((name) => !isKnown(name));
      if (unknown.length > 0) {
        problems.push(`SMS_ROUTES: ${country}: unknown provider "${unknown[0]}" (known: ${SMS_PROVIDERS.join(', ')})`);
      }
    }
    return problems.length > 0 ? undefined : routes;
  }

  /** SNS takes no spaces in a sender id: a country routed to SNS needs one without. */
  private snsSenderIdProblems(routes: Map<string, string[]> | undefined, names: string[]): string[] {
    const ids = this.senderIds ? parseSenderIds(this.senderIds) : undefined;
    const problems: string[] = [];
    for (const [country, id] of typeof ids === 'string' || !ids ? [] : ids) {
      const chain = routes?.get(country) ?? routes?.get(DEFAULT_ROUTE) ?? names;
      if (chain.includes('sns') && id.includes(' ')) {
        problems.push(`SMS_SENDER_IDS: ${country}: "${id}" has a space, which SNS does not allow in a sender id`);
      }
    }
    return problems;
  }
}

/** The rules of one provider list (SMS_PROVIDER's, or one route's of SMS_ROUTES); `where` names it in the messages. */
function chainProblems(where: string, names: string[], production: boolean): string[] {
  const problems: string[] = [];
  if (new Set(names).size !== names.length) problems.push(`${where}: names a provider more than once`);
  if (names.includes('none') && names.length > 1) {
    problems.push(`${where}: "none" drops every message and cannot be combined with other providers`);
  }
  if (names.includes('console') && names.indexOf('console') !== names.length - 1) {
    problems.push(`${where}: "console" accepts every message, so it can only be the last in the list`);
  }
  if (production && names.includes('console')) {
    problems.push(`${where}: "console" prints codes to stdout and is refused when NODE_ENV=production`);
  }
  return problems;
}
