import { Injectable } from '@nestjs/common';
import { Counter } from 'prom-client';
import { Metrics } from '../../common/metrics/metrics';

/** not_required: no token asked and none given; missing: asked and not given; invalid / score: refused. */
export const CAPTCHA_OUTCOMES = ['pass', 'not_required', 'missing', 'invalid', 'score', 'unavailable'] as const;
/** failed_open / failed_closed: the hook was late, down or answered nonsense, and SEND_HOOK_ON_TIMEOUT decided. */
export const HOOK_OUTCOMES = ['allow', 'channel', 'deny', 'rate', 'failed_open', 'failed_closed'] as const;
export type CaptchaOutcome = (typeof CAPTCHA_OUTCOMES)[number];
export type HookOutcome = (typeof HOOK_OUTCOMES)[number];

/** `pv_presend_checks_total{check,outcome}`: both labels from the closed sets above. */
@Injectable()
export class PreSendMetrics {
  private readonly checks: Counter<'check' | 'outcome'>;

  constructor(metrics: Metrics) {
    this.checks = new Counter({
      name: 'pv_presend_checks_total',
      help: 'Pre-send checks of SetPhone and ResendPhoneCode sends, by check (captcha, send_hook) and outcome',
      labelNames: ['check', 'outcome'],
      registers: [metrics.registry],
    });
  }

  captcha(outcome: CaptchaOutcome): void {
    this.checks.inc({ check: 'captcha', outcome });
  }

  hook(outcome: HookOutcome): void {
    this.checks.inc({ check: 'send_hook', outcome });
  }
}
