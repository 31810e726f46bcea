import { Clock } from '../../common/clock';
import { AppConfig } from '../../common/config/app-config.module';
import { DEFAULT_ROUTE, effectiveRoutes, parseSenderIds, providerList } from '../../common/config/sms-routes';
import type { PhoneMetrics } from '../phone.metrics';
import { receiptUrl } from './delivery-receipt';
import { MeasuredSmsSender } from './measured-sms-sender';
import { MESSAGEBIRD_RECEIPTS_PATH, MessageBirdSmsSender } from './messagebird-sms-sender';
import { RoutingSmsSender } from './routing-sms-sender';
import { SnsSmsSender } from './sns-sms-sender';
import {
  ConsoleSmsSender,
  NoneSmsSender,
  SmsAccepted,
  SmsDeliveryError,
  SmsErrorCode,
  SmsMessage,
  SmsSender,
} from './sms-sender';
import { TwilioSmsSender } from './twilio-sms-sender';
import { VONAGE_RECEIPTS_PATH, VonageSmsSender } from './vonage-sms-sender';
import { WebhookSmsSender } from './webhook-sms-sender';

/**
 * Tries each provider in order for one message and stops at the first that accepts it. When all
 * fail, the error is retryable if any provider's failure was: a later attempt may get through there.
 */
export class FailoverSmsSender extends SmsSender {
  readonly name: string;

  constructor(private readonly senders: readonly SmsSender[]) {
    super();
    if (senders.length === 0) throw new Error('FailoverSmsSender needs at least one provider');
    this.name = senders.map((s) => s.name).join(',');
  }

  async send(message: SmsMessage): Promise<SmsAccepted> {
    const failures: string[] = [];
    let retryable = false;
    let code: SmsErrorCode = 'other';
    for (const sender of this.senders) {
      if (message.skipProviders?.includes(sender.name)) continue;
      try {
        return await sender.send(message);
      } catch (error) {
        // anything but an SmsDeliveryError is a bug in a sender: retrying is safer than losing the code
        const delivery = error instanceof SmsDeliveryError ? error : undefined;
        const worthRetrying = delivery?.retryable ?? true;
        // the chain's code is that of the last failure that keeps the message alive, if any did
        if (worthRetrying || !retryable) code = delivery?.code ?? 'other';
        retryable ||= worthRetrying;
        failures.push(delivery?.message ?? `${sender.name}: ${(error as Error)?.message ?? String(error)}`);
      }
    }
    throw new SmsDeliveryError(`all SMS providers failed: ${failures.join('; ')}`, retryable, code);
  }
}

/** The providers SMS_PROVIDER names, in order ("webhook,twilio" → ["webhook", "twilio"]). */
export function smsProviderNames(setting: string): string[] {
  return providerList(setting);
}

/** Where a provider is told to send its receipts, when SMS_RECEIPTS_BASE_URL is set. */
export function receiptsUrl(config: AppConfig, path: string): string | undefined {
  return config.SMS_RECEIPTS_BASE_URL ? `${config.SMS_RECEIPTS_BASE_URL.replace(/\/+$/, '')}${path}` : undefined;
}

function createOne(name: string, config: AppConfig, clock: Clock): SmsSender {
  switch (name) {
    case 'console':
      return new ConsoleSmsSender();
    case 'none':
      return new NoneSmsSender();
    case 'webhook':
      return new WebhookSmsSender(
        {
          url: config.SMS_WEBHOOK_URL!,
          timeoutMs: config.SMS_WEBHOOK_TIMEOUT,
          signingKey: config.SMS_WEBHOOK_SIGNING_KEY,
        },
        clock,
      );
    case 'twilio':
      return new TwilioSmsSender(
        {
          baseUrl: config.TWILIO_BASE_URL,
          accountSid: config.TWILIO_ACCOUNT_SID!,
          authToken: config.TWILIO_AUTH_TOKEN!,
          from: config.TWILIO_FROM_NUMBER,
          messagingServiceSid: config.TWILIO_MESSAGING_SERVICE_SID,
          timeoutMs: config.TWILIO_TIMEOUT,
          statusCallbackUrl: config.SMS_RECEIPTS_BASE_URL && receiptUrl(config.SMS_RECEIPTS_BASE_URL, name),
        },
        clock,
      );
    case 'vonage':
      return new VonageSmsSender(
        {
          baseUrl: config.VONAGE_BASE_URL,
          apiKey: config.VONAGE_API_KEY!,
          apiSecret: config.VONAGE_API_SECRET,
          signatureSecret: config.VONAGE_API_SECRET ? undefined : config.VONAGE_SIGNATURE_SECRET,
          signatureMethod: config.VONAGE_SIGNATURE_METHOD,
          from: config.VONAGE_FROM!,
          timeoutMs: config.VONAGE_TIMEOUT,
          callbackUrl: receiptsUrl(config, VONAGE_RECEIPTS_PATH),
        },
        clock,
      );
    case 'sns':
      return new SnsSmsSender({
        region: config.SNS_REGION!,
        endpoint: config.SNS_ENDPOINT,
        accessKeyId: config.SNS_ACCESS_KEY_ID,
        secretAccessKey: config.SNS_SECRET_ACCESS_KEY,
        senderId: config.SNS_SENDER_ID,
        timeoutMs: config.SNS_TIMEOUT,
      });
    case 'messagebird':
      return new MessageBirdSmsSender(
        {
          baseUrl: config.MESSAGEBIRD_BASE_URL,
          accessKey: config.MESSAGEBIRD_ACCESS_KEY!,
          originator: config.MESSAGEBIRD_ORIGINATOR!,
          timeoutMs: config.MESSAGEBIRD_TIMEOUT,
          reportUrl: receiptsUrl(config, MESSAGEBIRD_RECEIPTS_PATH),
        },
        clock,
      );
    default:
      throw new Error(`SMS_PROVIDER: unknown provider "${name}"`);
  }
}

/**
 * The SmsSender that SMS_PROVIDER and SMS_ROUTES describe. Without SMS_ROUTES and SMS_SENDER_IDS:
 * one provider, or several tried in order. With either: a RoutingSmsSender whose every route is a
 * failover chain (so skipProviders holds for a chain of one too). Each provider call is measured,
 * given `metrics`, under its route.
 */
export function createSmsSender(config: AppConfig, clock: Clock, metrics?: PhoneMetrics): SmsSender {
  const build = (name: string, route: string) => {
    const sender = createOne(name, config, clock);
    return metrics ? new MeasuredSmsSender(sender, metrics, route) : sender;
  };
  if (!config.SMS_ROUTES && !config.SMS_SENDER_IDS) {
    const senders = smsProviderNames(config.SMS_PROVIDER).map((name) => build(name, DEFAULT_ROUTE));
    return senders.length === 1 ? senders[0] : new FailoverSmsSender(senders);
  }
  const chains = new Map<string, SmsSender>();
  for (const [route, names] of effectiveRoutes(config)) {
    chains.set(route, new FailoverSmsSender(names.map((name) => build(name, route))));
  }
  const senderIds = config.SMS_SENDER_IDS ? parseSenderIds(config.SMS_SENDER_IDS) : new Map<string, string>();
  return new RoutingSmsSender(chains, typeof senderIds === 'string' ? new Map() : senderIds);
}
