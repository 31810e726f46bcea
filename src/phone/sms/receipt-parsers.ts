import { Clock } from '../../common/clock';
import { AppConfig } from '../../common/config/app-config.module';
import { ReceiptParser } from './delivery-receipt';
import { configuredProviders } from '../../common/config/sms-routes';
import { providerReceiptParser } from './provider-receipt-parsers';
import { TwilioReceiptParser } from './twilio-receipts';
import { WebhookReceiptParser } from './webhook-receipts';

/** The receipt parser of one provider, undefined when it has none (or lacks what authenticates its receipts). */
function parserOf(name: string, config: AppConfig, clock: Clock): ReceiptParser | undefined {
  switch (name) {
    case 'twilio':
      return new TwilioReceiptParser(config.TWILIO_AUTH_TOKEN!);
    case 'webhook':
      // unsigned receipts would let anyone mark messages undelivered: none without a key
      return config.SMS_WEBHOOK_SIGNING_KEY
        ? new WebhookReceiptParser(config.SMS_WEBHOOK_SIGNING_KEY, clock)
        : undefined;
    default:
      // vonage, messagebird (undefined for the others)
      return providerReceiptParser(name, config, clock);
  }
}

/**
 * The receipt parsers of the providers SMS_PROVIDER and SMS_ROUTES name, when SMS_RECEIPTS_BASE_URL is set
 * (else none: no receipts are requested, and none are taken). A new provider joins by a case above.
 */
export function createReceiptParsers(config: AppConfig, clock: Clock): ReceiptParser[] {
  if (!config.SMS_RECEIPTS_BASE_URL) return [];
  return configuredProviders(config)
    .map((name) => parserOf(name, config, clock))
    .filter((parser): parser is ReceiptParser => parser !== undefined);
}
