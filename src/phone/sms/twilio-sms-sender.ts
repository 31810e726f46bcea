import { Clock } from '../../common/clock';
import { forLanguage, LanguageMap } from './channel-texts';
import { SmsAccepted, SmsMessage, SmsSender } from './sms-sender';
import { readTwilioSid, TwilioAccount, twilioAccountUrl, TwilioClient, twilioFailure } from './twilio-client';

export interface TwilioSmsSenderOptions extends TwilioAccount {
  /** Exactly one of `from` (a number or alphanumeric sender id) and `messagingServiceSid`. */
  from?: string;
  messagingServiceSid?: string;
  /** Where Twilio posts the message's status changes (StatusCallback); none requested when unset. */
  statusCallbackUrl?: string;
  /** The sender's name (metrics, receipts): `twilio`, or `twilio-whatsapp` for the WhatsApp sender. */
  name?: string;
  /**
   * Sends by WhatsApp (`whatsapp:` addresses, from `from`): an approved template per language whose
   * variable 1 is the code (ContentSid, ContentVariables), or the text as the body when none is set.
   */
  whatsapp?: TwilioWhatsAppOptions;
}

export interface TwilioWhatsAppOptions {
  /** an approved template per language; without one, the text goes as the body */
  contentSids?: LanguageMap;
  /** the body for a message that comes without a text (the workflow renders none for WhatsApp) */
  text?: (message: SmsMessage) => string;
}

/** Twilio's bounds of ValidityPeriod, in seconds. */
export const TWILIO_MAX_VALIDITY = 36_000;

/**
 * The ValidityPeriod of a message whose code dies at `expiresAt`: its remaining life in whole
 * seconds, at most Twilio's 36,000; undefined when under a second is left (the outbox sends no
 * such message, so this only happens in a test).
 */
export function validityPeriod(expiresAt: Date, now: Date): number | undefined {
  const seconds = Math.floor((expiresAt.getTime() - now.getTime()) / 1000);
  return seconds < 1 ? undefined : Math.min(seconds, TWILIO_MAX_VALIDITY);
}

/** A Message resource's id: "SM" or "MM" and 32 hex digits. */
const MESSAGE_SID = /^[SM]M[0-9a-fA-F]{32}$/;

/**
 * Twilio Programmable Messaging: one Messages resource per text. Twilio has no idempotency key for
 * it, so a request that timed out after Twilio accepted it and is then retried sends twice.
 */
export class TwilioSmsSender extends SmsSender {
  readonly name: string;
  private readonly url: string;
  private readonly client: TwilioClient;

  constructor(
    private readonly options: TwilioSmsSenderOptions,
    private readonly clock: Clock = new Clock(),
  ) {
    super();
    this.name = options.name ?? 'twilio';
    if (options.whatsapp && !options.from) throw new Error('TwilioSmsSender needs from for WhatsApp');
    if (!options.whatsapp && !options.from === !options.messagingServiceSid) {
      throw new Error('TwilioSmsSender needs exactly one of from and messagingServiceSid');
    }
    this.url = twilioAccountUrl(options, 'Messages');
    this.client = new TwilioClient(this.name, options);
  }

  async send(message: SmsMessage): Promise<SmsAccepted> {
    const form = this.options.whatsapp ? this.whatsappForm(message, this.options.whatsapp) : this.smsForm(message);
    const validity = validityPeriod(message.expiresAt, this.clock.now());
    if (validity !== undefined) form.set('ValidityPeriod', String(validity));
    if (this.options.statusCallbackUrl) form.set('StatusCallback', this.options.statusCallbackUrl);
    const response = await this.client.post(this.url, form);
    if (response.status >= 200 && response.status < 300) {
      // accepted: a slow or broken body must not turn this into a retry (and a second text), so a
      // body that cannot be read within the timeout only costs the message id (and its receipts)
      const sid = await readTwilioSid(response, MESSAGE_SID);
      return sid ? { provider: this.name, providerMessageId: sid } : { provider: this.name };
    }
    throw await twilioFailure(response, message.code);
  }

  private smsForm(message: SmsMessage): URLSearchParams {
    const form = new URLSearchParams({ To: message.to, Body: message.text });
    if (this.options.messagingServiceSid) form.set('MessagingServiceSid', this.options.messagingServiceSid);
    // the country's sender id (SMS_SENDER_IDS) wins; with a messaging service it must be one of the service's senders
    const from = message.senderId ?? this.options.from;
    if (from) form.set('From', from);
    return form;
  }

  /** A WhatsApp sender is a number of its own: a country's SMS sender id does not apply. */
  private whatsappForm(message: SmsMessage, whatsapp: TwilioWhatsAppOptions): URLSearchParams {
    const form = new URLSearchParams({ To: `whatsapp:${message.to}`, From: `whatsapp:${this.options.from}` });
    const contentSid = whatsapp.contentSids && forLanguage(whatsapp.contentSids, message.language);
    if (contentSid) {
      form.set('ContentSid', contentSid);
      form.set('ContentVariables', JSON.stringify({ 1: message.code }));
    } else {
      form.set('Body', message.text || (whatsapp.text?.(message) ?? ''));
    }
    return form;
  }
}
