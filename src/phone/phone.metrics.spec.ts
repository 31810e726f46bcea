import { LimitMetrics } from '../common/limits/limit.metrics';
import { Metrics } from '../common/metrics/metrics';
import { failureReason } from './phone.metrics';
import { SmsDeliveryError, SmsErrorCode } from './sms/sms-sender';

describe(failureReason.name, () => {
  it.each([
    [false, 'http_4xx', 'rejected'],
    [false, 'twilio_21211', 'rejected'],
    [false, 'timeout', 'rejected'],
    [true, 'timeout', 'timeout'],
    [true, 'network', 'unavailable'],
    [true, 'http_5xx', 'unavailable'],
    [true, 'http_429', 'unavailable'],
    [true, 'twilio_30001', 'unavailable'],
    [true, 'other', 'other'],
  ] as const)('a last failure retryable=%s with code %s gave up as %s', (retryable, code, reason) => {
    expect(failureReason(new SmsDeliveryError('x', retryable, code as SmsErrorCode))).toBe(reason);
  });
});

describe(LimitMetrics.name, () => {
  it('counts a rule it does not know as other, never by its own name', async () => {
    const metrics = new Metrics();
    const limits = new LimitMetrics(metrics);
    limits.refused('sms:user:298765432109876543');
    limits.refused('throttle');
    const text = await metrics.registry.getSingleMetricAsString('pv_limit_refusals_total');
    expect(text).toContain('pv_limit_refusals_total{limit="other"} 1');
    expect(text).toContain('pv_limit_refusals_total{limit="throttle"} 1');
    expect(text).not.toContain('2987654321');
  });
});
