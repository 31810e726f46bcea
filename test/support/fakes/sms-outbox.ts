import type { SmsOutboxEntity } from '../../../src/phone/outbox/sms-outbox.entity';
import type { SmsOutboxRepository } from '../../../src/phone/outbox/sms-outbox.repository';
import type { SmsOutboxWorker } from '../../../src/phone/outbox/sms-outbox.worker';
import type { Tx } from './transactions';

/** The outbox table in memory: what was queued, in order. */
export class FakeOutbox implements Pick<SmsOutboxRepository, 'enqueue'> {
  readonly queued: SmsOutboxEntity[] = [];

  async enqueue(_tx: Tx, row: SmsOutboxEntity): Promise<void> {
    this.queued.push({ ...row });
  }
}

/** The worker's wake-up call, counted. */
export class FakeOutboxWorker implements Pick<SmsOutboxWorker, 'kick'> {
  kicks = 0;

  kick(): void {
    this.kicks += 1;
  }
}
