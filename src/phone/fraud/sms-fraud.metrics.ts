import { Injectable } from '@nestjs/common';
import { Counter } from 'prom-client';
import { Metrics } from '../../common/metrics/metrics';
import { FRAUD_RULES } from './sms-fraud-rules';

/** Why a send passed without being judged. */
export const FRAUD_BYPASSES = ['allowed_address', 'allowed_country', 'allowed_number', 'verified_number'] as const;
export type FraudBypass = (typeof FRAUD_BYPASSES)[number];

/** pass: nothing hit (rule "none") or a bypass (its name); flag: record mode saw a hit; block: enforce refused. */
export type FraudDecision = 'pass' | 'flag' | 'block';
export type FraudMetricRule = (typeof FRAUD_RULES)[number] | FraudBypass | 'none';

/** `pv_sms_fraud_decisions_total{rule,mode,decision}`: every label from the closed sets above. */
@Injectable()
export class SmsFraudMetrics {
  private readonly decisions: Counter<'rule' | 'mode' | 'decision'>;

  constructor(metrics: Metrics) {
    this.decisions = new Counter({
      name: 'pv_sms_fraud_decisions_total',
      help: 'Decisions of the SMS pumping guard, by rule (the first one hit, a bypass, or none), mode and decision (pass, flag, block)',
      labelNames: ['rule', 'mode', 'decision'],
      registers: [metrics.registry],
    });
    for (const mode of ['record', 'enforce']) this.decisions.inc({ rule: 'none', mode, decision: 'pass' }, 0);
  }

  decided(rule: FraudMetricRule, mode: 'record' | 'enforce', decision: FraudDecision): void {
    this.decisions.inc({ rule, mode, decision });
  }
}
