import { Clock } from '../../common/clock';
import { DEFAULT_ROUTE, effectiveRoutes, parseSenderIds, providerList } from './sms-routes';
import type { PhoneMetrics } from '../phone.metrics';
import { receiptUrl } from './delivery-receipt';
import { MeasuredSmsSender } from './measured-sms-sender';
import { MESSAGEBIRD_RECEIPTS_PATH, MessageBirdSmsSender } from './messagebird-sms-sender';
import { RoutingSmsSender } from './routing-sms-sender';
import { SnsSmsSender } from './sns-sms-sender';
import type { SmsSettings } from './sms.settings';
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
export function receiptsUrl(sms: SmsSettings, path: string): string | undefined {
  return sms.receiptsBaseUrl ? `${sms.receiptsBaseUrl.replace(/\/+$/, '')}${path}` : undefined;
}

function createOne(name: string, sms: SmsSettings, clock: Clock): SmsSender {
  switch (name) {
    case 'console':
      return new ConsoleSmsSender();
    case 'none':
      return new NoneSmsSender();
    case 'webhook':
      return new WebhookSmsSender(
        {
          url: sms.webhook.url!,
          timeoutMs: sms.webhook.timeoutMs,
          signingKey: sms.webhook.signingKey,
        },
        clock,
      );
    case 'twilio':
      return new TwilioSmsSender(
        {
          baseUrl: sms.twilio.baseUrl,
          accountSid: sms.twilio.accountSid!,
          authToken: sms.twilio.authToken!,
          from: sms.twilio.fromNumber,
          messagingServiceSid: sms.twilio.messagingServiceSid,
          timeoutMs: sms.twilio.timeoutMs,
          statusCallbackUrl: sms.receiptsBaseUrl && receiptUrl(sms.receiptsBaseUrl, name),
        },
        clock,
      );
    case 'vonage':
      return new VonageSmsSender(
        {
          baseUrl: sms.vonage.baseUrl,
          apiKey: sms.vonage.apiKey!,
          apiSecret: sms.vonage.apiSecret,
          signatureSecret: sms.vonage.apiSecret ? undefined : sms.vonage.signatureSecret,
          signatureMethod: sms.vonage.signatureMethod,
          from: sms.vonage.from!,
          timeoutMs: sms.vonage.timeoutMs,
          callbackUrl: receiptsUrl(sms, VONAGE_RECEIPTS_PATH),
        },
        clock,
      );
    case 'sns':
      return new SnsSmsSender({
        region: sms.sns.region!,
        endpoint: sms.sns.endpoint,
        accessKeyId: sms.sns.accessKeyId,
        secretAccessKey: sms.sns.secretAccessKey,
        senderId: sms.sns.senderId,
        timeoutMs: sms.sns.timeoutMs,
      });
    case 'messagebird':
      return new MessageBirdSmsSender(
        {
          baseUrl: sms.messagebird.baseUrl,
          accessKey: sms.messagebird.accessKey!,
          originator: sms.messagebird.originator!,
          timeoutMs: sms.messagebird.timeoutMs,
          reportUrl: receiptsUrl(sms, MESSAGEBIRD_RECEIPTS_PATH),
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
export function createSmsSender(sms: SmsSettings, clock: Clock, metrics?: PhoneMetrics): SmsSender {
  const build = (name: string, route: string) => {
    const sender = createOne(name, sms, clock);
    return metrics ? new MeasuredSmsSender(sender, metrics, route) : sender;
  };
  if (!sms.routes && !sms.senderIds) {
    const senders = smsProviderNames(sms.provider).map((name) => build(name, DEFAULT_ROUTE));
    return senders.length === 1 ? senders[0] : new FailoverSmsSender(senders);
  }
  const chains = new Map<string, SmsSender>();
  for (const [route, names] of effectiveRoutes(sms)) {
    chains.set(route, new FailoverSmsSender(names.map((name) => build(name, route))));
  }
  const senderIds = sms.senderIds ? parseSenderIds(sms.senderIds) : new Map<string, string>();
  return new RoutingSmsSender(chains, typeof senderIds === 'string' ? new Map() : senderIds);
}
