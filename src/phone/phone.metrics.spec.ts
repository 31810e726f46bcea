import { LimitMetrics } from '../common/limits/limit.metrics';
import { Metrics } from '../common/metrics/metrics';
import { unitConfig } from '../../test/support/fakes/config';
import { failureReason, PhoneMetrics } from './phone.metrics';
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

describe(PhoneMetrics.name, () => {
  const build = (env: Record<string, string> = {}) => {
    const metrics = new Metrics();
    return {
      metrics,
      sut: new PhoneMetrics(
        metrics,
        unitConfig(env).codes,
        unitConfig(env).sms,
        new LimitMetrics(metrics),
        unitConfig(env).channelRoutes,
      ),
    };
  };
  const text = (metrics: Metrics, name: string) => metrics.registry.getSingleMetricAsString(name);

  it('counts a send to a test number as channel test_number, and no SMS queued', async () => {
    const { metrics, sut } = build({ SMS_TEST_NUMBERS: '+41790000001=123456' });
    sut.codeIssued('send', false);
    sut.codeIssued('send');
    sut.codeIssued('return', false);
    const issued = await text(metrics, 'pv_phone_codes_issued_total');
    expect(issued).toContain('pv_phone_codes_issued_total{channel="test_number"} 1');
    expect(issued).toContain('pv_phone_codes_issued_total{channel="sms"} 1');
    expect(issued).toContain('pv_phone_codes_issued_total{channel="returned"} 1');
    expect(await text(metrics, 'pv_sms_queued_total')).toContain('pv_sms_queued_total 1');
  });

  it("shows the routed channels' codes and sends from the start", async () => {
    const routed = build({ CHANNEL_ROUTES: 'IN=whatsapp,sms' }).metrics;
    expect(await text(routed, 'pv_phone_codes_issued_total')).toContain('{channel="whatsapp"} 0');
    expect(await text(routed, 'pv_channel_sends_total')).toContain('{channel="whatsapp",result="accepted"} 0');
    expect(await text(build().metrics, 'pv_phone_codes_issued_total')).not.toContain('{channel="whatsapp"}');
  });

  it('counts a code under the channel of its first step', async () => {
    const { sut, metrics } = build();
    sut.codeIssued('send', true, 'voice');
    expect(await text(metrics, 'pv_phone_codes_issued_total')).toContain('{channel="voice"} 1');
  });

  it('shows channel test_number from the start only when SMS_TEST_NUMBERS is set', async () => {
    expect(await text(build().metrics, 'pv_phone_codes_issued_total')).not.toContain('test_number');
    const withList = build({ SMS_TEST_NUMBERS: '+41790000001=123456' }).metrics;
    expect(await text(withList, 'pv_phone_codes_issued_total')).toContain('{channel="test_number"} 0');
  });
});
