import { Clock } from '../../common/clock';
import { AppConfig } from '../../common/config/app-config.module';
import { effectiveRoutes } from '../../common/config/sms-routes';
import { ReceiptParser } from './delivery-receipt';
import { MESSAGEBIRD_RECEIPTS_PATH, MessageBirdReceiptParser } from './messagebird-sms-sender';
import { VONAGE_RECEIPTS_PATH, VonageReceiptParser } from './vonage-sms-sender';

/** Where each provider's receipts arrive, under SMS_RECEIPTS_BASE_URL. */
export const RECEIPT_PATHS: Readonly<Record<string, string>> = {
  vonage: VONAGE_RECEIPTS_PATH,
  messagebird: MESSAGEBIRD_RECEIPTS_PATH,
};

/**
 * The receipt parsers of the configured providers that send receipts to an endpoint (Vonage,
 * MessageBird), one per provider SMS_PROVIDER or SMS_ROUTES names. A parser without its secret
 * still exists and refuses every receipt with 401, so a misconfiguration shows in the provider's
 * webhook log instead of as a 404.
 */
export function receiptParsers(config: AppConfig, clock: Clock): ReceiptParser[] {
  const used = new Set([...effectiveRoutes(config).values()].flat());
  const parsers: ReceiptParser[] = [];
  if (used.has('vonage')) {
    parsers.push(
      new VonageReceiptParser(
        {
          apiKey: config.VONAGE_API_KEY!,
          signatureSecret: config.VONAGE_SIGNATURE_SECRET,
          signatureMethod: config.VONAGE_SIGNATURE_METHOD,
        },
        clock,
      ),
    );
  }
  if (used.has('messagebird')) {
    parsers.push(new MessageBirdReceiptParser({ signingKey: config.MESSAGEBIRD_SIGNING_KEY }, clock));
  }
  return parsers;
}
