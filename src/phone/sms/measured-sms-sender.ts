import { performance } from 'node:perf_hooks';
import type { PhoneMetrics } from '../phone.metrics';
import { SmsAccepted, SmsDeliveryError, SmsMessage, SmsSender } from './sms-sender';

/** One provider with every call timed and every failure counted by its code. */
export class MeasuredSmsSender extends SmsSender {
  readonly name: string;

  constructor(
    private readonly provider: SmsSender,
    private readonly metrics: PhoneMetrics,
  ) {
    super();
    this.name = provider.name;
  }

  async send(message: SmsMessage): Promise<SmsAccepted> {
    const started = performance.now();
    try {
      const accepted = await this.provider.send(message);
      this.metrics.providerCall(this.name, (performance.now() - started) / 1000);
      return accepted;
    } catch (error) {
      const code = error instanceof SmsDeliveryError ? error.code : 'other';
      this.metrics.providerCall(this.name, (performance.now() - started) / 1000, code);
      throw error;
    }
  }
}
