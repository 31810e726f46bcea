import { Clock } from '../../common/clock';
import { AppConfig } from '../../common/config/app-config.module';
import type { PhoneMetrics } from '../phone.metrics';
import { receiptUrl } from './delivery-receipt';
import { MeasuredSmsSender } from './measured-sms-sender';
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
  return setting.split(',').map((name) => name.trim());
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
    default:
      throw new Error(`SMS_PROVIDER: unknown provider "${name}"`);
  }
}

/** The SmsSender that SMS_PROVIDER describes: one provider, or several tried in order; each one measured, given `metrics`. */
export function createSmsSender(config: AppConfig, clock: Clock, metrics?: PhoneMetrics): SmsSender {
  const senders = smsProviderNames(config.SMS_PROVIDER).map((name) => {
    const sender = createOne(name, config, clock);
    return metrics ? new MeasuredSmsSender(sender, metrics) : sender;
  });
  return senders.length === 1 ? senders[0] : new FailoverSmsSender(senders);
}
