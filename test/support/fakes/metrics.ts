import type { AppConfig } from '../../../src/app.config';
import { LimitMetrics } from '../../../src/common/limits/limit.metrics';
import { Metrics } from '../../../src/common/metrics/metrics';
import { PhoneMetrics } from '../../../src/phone/phone.metrics';

/** The limit refusal counters, on a registry of their own (nothing reads them in a unit spec). */
export function limitMetrics(): LimitMetrics {
  return new LimitMetrics(new Metrics());
}

/** The phone funnel counters, on a registry of their own. */
export function phoneMetrics(config: AppConfig): PhoneMetrics {
  const metrics = new Metrics();
  return new PhoneMetrics(metrics, config.codes, config.sms, new LimitMetrics(metrics), config.channelRoutes);
}
