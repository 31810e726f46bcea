import { SpokenText, VoiceTexts } from './channel-texts';
import { SmsAccepted, SmsMessage, SmsSender } from './sms-sender';
import { readTwilioSid, TwilioAccount, twilioAccountUrl, TwilioClient, twilioFailure } from './twilio-client';

export interface TwilioCallSenderOptions extends TwilioAccount {
  /** the Twilio number that calls */
  from: string;
  /** Where Twilio posts the call's status changes (StatusCallback); none requested when unset. */
  statusCallbackUrl?: string;
}

/** A Call resource's id: "CA" and 32 hex digits. */
export const CALL_SID = /^CA[0-9a-fA-F]{32}$/;

/** How long the phone rings before Twilio gives up (its own default is 60 s). */
const RING_SECONDS = 30;
/** A call that reads a code twice is over well within this; a voicemail loop cannot run up the bill. */
const TIME_LIMIT_SECONDS = 90;

const XML_ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&apos;' };
const xml = (text: string) => text.replace(/[&<>"']/g, (c) => XML_ESCAPES[c]);

/** The TwiML of a call that says the words twice, a second apart. */
export function twiml({ text, language }: SpokenText): string {
  const say = `<Say${language ? ` language="${xml(language)}"` : ''}>${xml(text)}</Say>`;
  return `<Response>${say}<Pause length="1"/>${say}</Response>`;
}

/**
 * Twilio Programmable Voice: one Calls resource per code, its words as inline TwiML (`Twiml`), so
 * no URL of ours is fetched while the call runs. Like Messages, Calls has no idempotency key: a
 * request that timed out after Twilio took it and is then retried calls twice.
 */
export class TwilioCallSender extends SmsSender {
  readonly name = 'twilio-voice';
  private readonly url: string;
  private readonly client: TwilioClient;

  constructor(
    private readonly options: TwilioCallSenderOptions,
    private readonly texts: VoiceTexts,
  ) {
    super();
    this.url = twilioAccountUrl(options, 'Calls');
    this.client = new TwilioClient(this.name, options);
  }

  async send(message: SmsMessage): Promise<SmsAccepted> {
    const form = new URLSearchParams({
      To: message.to,
      From: this.options.from,
      Twiml: twiml(this.texts.render(message.code, message.language)),
      Timeout: String(RING_SECONDS),
      TimeLimit: String(TIME_LIMIT_SECONDS),
    });
    if (this.options.statusCallbackUrl) {
      form.set('StatusCallback', this.options.statusCallbackUrl);
      // the final status only (completed, busy, no-answer, failed, canceled): that is what a receipt says
      form.set('StatusCallbackEvent', 'completed');
    }
    const response = await this.client.post(this.url, form);
    if (response.status >= 200 && response.status < 300) {
      // a body that cannot be read costs only the receipts, never a second call
      const sid = await readTwilioSid(response, CALL_SID);
      return sid ? { provider: this.name, providerMessageId: sid } : { provider: this.name };
    }
    throw await twilioFailure(response, message.code);
  }
}
