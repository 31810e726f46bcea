import { Injectable } from '@nestjs/common';
import { ReadinessChecks } from '../../common/health/readiness-checks';
import { SmsOutboxWorker } from './sms-outbox.worker';

/**
 * Readiness includes the outbox worker: an instance whose worker has stopped would take codes
 * to send and never send them. Registered from here, so that src/common knows no feature.
 */
@Injectable()
export class OutboxReadiness {
  constructor(checks: ReadinessChecks, worker: SmsOutboxWorker) {
    checks.register('outbox', () => Promise.resolve(worker.running));
  }
}
