import { Clock } from '../../common/clock';
import { ReceiptParser } from './delivery-receipt';
import type { SmsSettings } from './sms.settings';
import { configuredProviders } from './sms-routes';
import { providerReceiptParser } from './provider-receipt-parsers';
import { MetaReceiptParser, TwilioCallReceiptParser, VonageVoiceReceiptParser } from './channel-receipts';
import { TwilioReceiptParser } from './twilio-receipts';
import { WebhookReceiptParser } from './webhook-receipts';

/** The receipt parser of one provider, undefined when it has none (or lacks what authenticates its receipts). */
function parserOf(name: string, sms: SmsSettings, clock: Clock): ReceiptParser | undefined {
  switch (name) {
    case 'twilio':
      return new TwilioReceiptParser(sms.twilio.authToken!);
    case 'webhook':
      // unsigned receipts would let anyone mark messages undelivered: none without a key
      return sms.webhook.signingKey ? new WebhookReceiptParser(sms.webhook.signingKey, clock) : undefined;
    default:
      // vonage, messagebird (undefined for the others)
      return providerReceiptParser(name, sms, clock);
  }
}

/**
 * The receipt parsers of the providers SMS_PROVIDER and SMS_ROUTES name, when SMS_RECEIPTS_BASE_URL is set
 * (else none: no receipts are requested, and none are taken). A new provider joins by a case above.
 */
export function createReceiptParsers(sms: SmsSettings, clock: Clock): ReceiptParser[] {
  if (!sms.receiptsBaseUrl) return [];
  return [...configuredProviders(sms).map((name) => parserOf(name, sms, clock)), ...channelParsers(sms, clock)].filter(
    (parser): parser is ReceiptParser => parser !== undefined,
  );
}

/** The receipt parsers of WHATSAPP_PROVIDER's and VOICE_PROVIDER's provider (each under a name of its own). */
function channelParsers(sms: SmsSettings, clock: Clock): (ReceiptParser | undefined)[] {
  const whatsapp = {
    twilio: () => new TwilioReceiptParser(sms.twilio.authToken!, 'twilio-whatsapp'),
    meta: () => new MetaReceiptParser(sms.whatsapp.metaAppSecret, sms.whatsapp.metaVerifyToken),
  };
  const voice = {
    twilio: () => new TwilioCallReceiptParser(sms.twilio.authToken!),
    vonage: () => new VonageVoiceReceiptParser(sms.vonage.signatureSecret, clock),
  };
  return [
    sms.whatsapp.provider && whatsapp[sms.whatsapp.provider](),
    sms.voice.provider && voice[sms.voice.provider](),
  ];
}
