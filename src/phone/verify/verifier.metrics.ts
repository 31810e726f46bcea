import { Injectable } from '@nestjs/common';
import { performance } from 'node:perf_hooks';
import { Counter, Histogram } from 'prom-client';
import { Metrics } from '../../common/metrics/metrics';
import { DelegatedVerifier, VerifierAnswer, VerifierUnavailable } from './delegated-verifier';

const ANSWERS: ReadonlyArray<VerifierAnswer | 'unavailable'> = [
  'approved',
  'wrong',
  'expired',
  'exhausted',
  'unavailable',
];
/** those of the SMS providers' request durations */
const BUCKETS = [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];

/**
 * `pv_verifier_checks_total{verifier,answer}` and `pv_verifier_check_duration_seconds{verifier}`: a
 * delegated verifier's judgements (its starts are counted as a provider's sends, pv_sms_*).
 */
@Injectable()
export class VerifierMetrics {
  private readonly checks: Counter<'verifier' | 'answer'>;
  private readonly duration: Histogram<'verifier'>;

  constructor(metrics: Metrics) {
    this.checks = new Counter({
      name: 'pv_verifier_checks_total',
      help: 'Codes a delegated verifier (PHONE_VERIFIER) was asked to judge, by its answer (unavailable: none)',
      labelNames: ['verifier', 'answer'],
      registers: [metrics.registry],
    });
    this.duration = new Histogram({
      name: 'pv_verifier_check_duration_seconds',
      help: 'Duration of one check at a delegated verifier',
      labelNames: ['verifier'],
      buckets: BUCKETS,
      registers: [metrics.registry],
    });
  }

  /** `verifier` with every check counted and timed. */
  measured(verifier: DelegatedVerifier): DelegatedVerifier {
    for (const answer of ANSWERS) this.checks.inc({ verifier: verifier.name, answer }, 0);
    return new MeasuredVerifier(verifier, this.checks, this.duration);
  }
}

class MeasuredVerifier extends DelegatedVerifier {
  readonly name: string;

  constructor(
    private readonly verifier: DelegatedVerifier,
    private readonly checks: Counter<'verifier' | 'answer'>,
    private readonly duration: Histogram<'verifier'>,
  ) {
    super();
    this.name = verifier.name;
  }

  start(to: string, language?: string): Promise<string> {
    return this.verifier.start(to, language);
  }

  async check(to: string, verificationId: string, code: string): Promise<VerifierAnswer> {
    const started = performance.now();
    try {
      const answer = await this.verifier.check(to, verificationId, code);
      this.checks.inc({ verifier: this.name, answer });
      return answer;
    } catch (error) {
      if (error instanceof VerifierUnavailable) this.checks.inc({ verifier: this.name, answer: 'unavailable' });
      throw error;
    } finally {
      this.duration.observe({ verifier: this.name }, (performance.now() - started) / 1000);
    }
  }
}
