import { Clock } from '../../common/clock';
import { configuredProviders } from './sms-routes';
import { ReceiptParser } from './delivery-receipt';
import type { SmsSettings } from './sms.settings';
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
export function providerReceiptParser(name: string, sms: SmsSettings, clock: Clock): ReceiptParser | undefined {
  switch (name) {
    case 'vonage':
      return new VonageReceiptParser(
        {
          apiKey: sms.vonage.apiKey!,
          signatureSecret: sms.vonage.signatureSecret,
          signatureMethod: sms.vonage.signatureMethod,
        },
        clock,
      );
    case 'messagebird':
      return new MessageBirdReceiptParser({ signingKey: sms.messagebird.signingKey }, clock);
    default:
      return undefined;
  }
}

/**
 * The receipt parsers of the new providers that SMS_PROVIDER or SMS_ROUTES names, when
 * SMS_RECEIPTS_BASE_URL is set (unset, no receipts are asked for and none are taken).
 */
export function receiptParsers(sms: SmsSettings, clock: Clock): ReceiptParser[] {
  if (!sms.receiptsBaseUrl) return [];
  return configuredProviders(sms)
    .map((name) => providerReceiptParser(name, sms, clock))
    .filter((parser): parser is ReceiptParser => parser !== undefined);
}
