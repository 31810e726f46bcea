import { Clock } from '../../common/clock';
import { AppConfig } from '../../common/config/app-config.module';
import { configuredProviders } from '../../common/config/sms-routes';
import { ReceiptParser } from './delivery-receipt';
import { MESSAGEBIRD_RECEIPTS_PATH, MessageBirdReceiptParser } from './messagebird-sms-sender';
import { VONAGE_RECEIPTS_PATH, VonageReceiptParser } from './vonage-sms-sender';

/** Where each of these providers' receipts arrive, under SMS_RECEIPTS_BASE_URL. */
export const RECEIPT_PATHS: Readonly<Record<string, string>> = {
  vonage: VONAGE_RECEIPTS_PATH,
  messagebird: MESSAGEBIRD_RECEIPTS_PATH,
};

/**
 * The receipt parser of Vonage or MessageBird (undefined for any other provider). Without its
 * secret (VONAGE_SIGNATURE_SECRET, MESSAGEBIRD_SIGNING_KEY) it still exists and refuses every
 * receipt with 401, so a missing secret shows in the provider's webhook log, not as a 404.
 */
export function providerReceiptParser(name: string, config: AppConfig, clock: Clock): ReceiptParser | undefined {
  switch (name) {
    case 'vonage':
      return new VonageReceiptParser(
        {
          apiKey: config.VONAGE_API_KEY!,
          signatureSecret: config.VONAGE_SIGNATURE_SECRET,
          signatureMethod: config.VONAGE_SIGNATURE_METHOD,
        },
        clock,
      );
    case 'messagebird':
      return new MessageBirdReceiptParser({ signingKey: config.MESSAGEBIRD_SIGNING_KEY }, clock);
    default:
      return undefined;
  }
}

/**
 * The receipt parsers of the new providers that SMS_PROVIDER or SMS_ROUTES names, when
 * SMS_RECEIPTS_BASE_URL is set (unset, no receipts are asked for and none are taken).
 */
export function receiptParsers(config: AppConfig, clock: Clock): ReceiptParser[] {
  if (!config.SMS_RECEIPTS_BASE_URL) return [];
  return configuredProviders(config)
    .map((name) => providerReceiptParser(name, config, clock))
    .filter((parser): parser is ReceiptParser => parser !== undefined);
}
