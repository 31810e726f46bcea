import { readFile } from 'node:fs/promises';
import { Clock } from '../../common/clock';
import { ConfigError } from '../../common/config/config-error';
import type { CodeSettings } from '../phone-codes.settings';
import type { PhoneMetrics } from '../phone.metrics';
import { Channel, ChannelSenders } from './channels';
import { VoiceTexts } from './channel-texts';
import { receiptUrl } from './delivery-receipt';
import { MeasuredSmsSender } from './measured-sms-sender';
import { MetaWhatsAppSender } from './meta-whatsapp-sender';
import { SmsSender } from './sms-sender';
import type { SmsText } from './sms-text';
import type { SmsSettings } from './sms.settings';
import { TwilioCallSender } from './twilio-call-sender';
import { TwilioAccount } from './twilio-client';
import { TwilioSmsSender } from './twilio-sms-sender';
import { VonageVoiceSender, vonagePrivateKey } from './vonage-voice-sender';

/** SMS (SMS_PROVIDER's chain) and, when WHATSAPP_PROVIDER and VOICE_PROVIDER are set, WhatsApp's and voice's senders (ADR 0029). */
export class ConfiguredChannelSenders extends ChannelSenders {
  private readonly senders: ReadonlyMap<Channel, SmsSender>;

  constructor(sms: SmsSender, whatsapp?: SmsSender, voice?: SmsSender) {
    super();
    const senders = new Map<Channel, SmsSender>([['sms', sms]]);
    if (whatsapp) senders.set('whatsapp', whatsapp);
    if (voice) senders.set('voice', voice);
    this.senders = senders;
  }

  senderFor(channel: Channel): SmsSender | undefined {
    return this.senders.get(channel);
  }
}

/** Where a channel provider's receipts go, when SMS_RECEIPTS_BASE_URL is set. */
const receiptsOf = (sms: SmsSettings, provider: string) =>
  sms.receiptsBaseUrl ? receiptUrl(sms.receiptsBaseUrl, provider) : undefined;

/** The Twilio account the WhatsApp and voice senders share with Twilio SMS. */
const twilioAccount = ({ twilio }: SmsSettings): TwilioAccount => ({
  baseUrl: twilio.baseUrl,
  accountSid: twilio.accountSid!,
  authToken: twilio.authToken!,
  timeoutMs: twilio.timeoutMs,
});

/** The WhatsApp sender; Twilio's sends the SMS text as the body when no Content SID is set. */
export function createWhatsAppSender(sms: SmsSettings, smsText?: SmsText): SmsSender | undefined {
  const whatsapp = sms.whatsapp;
  if (whatsapp.provider === 'twilio') {
    return new TwilioSmsSender({
      ...twilioAccount(sms),
      name: 'twilio-whatsapp',
      from: whatsapp.twilioFrom!,
      statusCallbackUrl: receiptsOf(sms, 'twilio-whatsapp'),
      whatsapp: {
        contentSids: whatsapp.contentSids(),
        text: (message) => smsText?.render({ code: message.code, language: message.language }) ?? '',
      },
    });
  }
  if (whatsapp.provider === 'meta') {
    return new MetaWhatsAppSender({
      baseUrl: whatsapp.metaBaseUrl,
      apiVersion: whatsapp.metaApiVersion,
      phoneNumberId: whatsapp.metaPhoneNumberId!,
      accessToken: whatsapp.metaAccessToken!,
      templateName: whatsapp.metaTemplateName!,
      templateLanguages: whatsapp.templateLanguages(),
      timeoutMs: whatsapp.metaTimeoutMs,
    });
  }
  return undefined;
}

/** The voice sender; a private key that cannot be read or used, or words too long to say, stop the start. */
export async function createVoiceSender(
  sms: SmsSettings,
  codes: Pick<CodeSettings, 'length'>,
  clock: Clock,
): Promise<SmsSender | undefined> {
  const voice = sms.voice;
  if (!voice.provider) return undefined;
  const texts = new VoiceTexts(voice.voiceTemplates(), voice.voiceLanguages());
  const problems = texts.problems(codes.length);
  if (problems.length > 0) throw new ConfigError(problems);
  if (voice.provider === 'twilio') {
    return new TwilioCallSender(
      {
        ...twilioAccount(sms),
        from: voice.twilioFrom!,
        statusCallbackUrl: receiptsOf(sms, 'twilio-voice'),
      },
      texts,
    );
  }
  return new VonageVoiceSender(
    {
      baseUrl: voice.vonageBaseUrl,
      applicationId: voice.vonageApplicationId!,
      privateKey: await readPrivateKey(voice.vonagePrivateKeyFile!),
      from: voice.vonageFrom!,
      timeoutMs: sms.vonage.timeoutMs,
      eventUrl: receiptsOf(sms, 'vonage-voice'),
    },
    texts,
    clock,
  );
}

async function readPrivateKey(path: string) {
  let pem: string;
  try {
    pem = await readFile(path, 'utf8');
  } catch (error) {
    const reason = (error as NodeJS.ErrnoException).code ?? 'unreadable';
    throw new ConfigError([`VONAGE_PRIVATE_KEY_FILE: ${path} cannot be read (${reason})`]);
  }
  try {
    return await vonagePrivateKey(pem);
  } catch {
    throw new ConfigError([
      `VONAGE_PRIVATE_KEY_FILE: ${path} holds no PKCS #8 private key (-----BEGIN PRIVATE KEY-----)`,
    ]);
  }
}

/** Each configured channel's sender, measured as SMS providers are (metrics by provider). */
export async function createChannelSenders(
  sms: SmsSender,
  settings: SmsSettings,
  codes: CodeSettings,
  clock: Clock,
  metrics: PhoneMetrics,
  smsText: SmsText,
): Promise<ChannelSenders> {
  const measured = (sender: SmsSender | undefined) => sender && new MeasuredSmsSender(sender, metrics);
  return new ConfiguredChannelSenders(
    sms,
    measured(createWhatsAppSender(settings, smsText)),
    measured(await createVoiceSender(settings, codes, clock)),
  );
}
