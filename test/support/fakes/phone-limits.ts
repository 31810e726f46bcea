import { LimitMetrics } from '../../../src/common/limits/limit.metrics';
import { Metrics } from '../../../src/common/metrics/metrics';
import { PhoneLimits } from '../../../src/phone/phone-limits';
import { InMemoryBackoffStore } from './backoff-store';
import { ManualClock } from './clock';
import { unitConfig } from './config';
import { InMemoryLimitStore } from './limit-store';

/**
 * A PhoneLimits over in-memory stores, with its clock and metrics; `random` is the back-off
 * jitter's next draw, in [0, 1) (0 = the full wait), which a test may change.
 */
export function phoneLimitsFixture(env: Record<string, string> = {}, store = new InMemoryLimitStore()) {
  const backoff = new InMemoryBackoffStore();
  const metrics = new Metrics();
  const fixture = { store, backoff, clock: new ManualClock(), metrics, random: 0 };
  const sut = new PhoneLimits(unitConfig(env).limits, store, new LimitMetrics(metrics), backoff, () => fixture.random);
  return Object.assign(fixture, { sut });
}
