import { performance } from 'node:perf_hooks';
import { DEFAULT_ROUTE } from './sms-routes';
import type { PhoneMetrics } from '../phone.metrics';
import { SmsAccepted, SmsDeliveryError, SmsMessage, SmsSender } from './sms-sender';

/**
 * One provider with every call timed, every failure counted by its code, and every send counted
 * by its route (a country of SMS_ROUTES, or `*`) and result.
 */
export class MeasuredSmsSender extends SmsSender {
  readonly name: string;

  constructor(
    private readonly provider: SmsSender,
    private readonly metrics: PhoneMetrics,
    private readonly route: string = DEFAULT_ROUTE,
  ) {
    super();
    this.name = provider.name;
  }

  async send(message: SmsMessage): Promise<SmsAccepted> {
    const started = performance.now();
    try {
      const accepted = await this.provider.send(message);
      this.metrics.providerCall(this.name, (performance.now() - started) / 1000);
      this.metrics.providerSend(this.name, this.route, 'accepted');
      return accepted;
    } catch (error) {
      const delivery = error instanceof SmsDeliveryError ? error : undefined;
      this.metrics.providerCall(this.name, (performance.now() - started) / 1000, delivery?.code ?? 'other');
      // anything but an SmsDeliveryError is retried (see FailoverSmsSender)
      this.metrics.providerSend(this.name, this.route, (delivery?.retryable ?? true) ? 'retryable' : 'rejected');
      throw error;
    }
  }
}
