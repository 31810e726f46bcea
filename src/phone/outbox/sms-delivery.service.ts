import { Injectable } from '@nestjs/common';
import { Clock } from '../../common/clock';
import { SmsDeliveryOutcomes } from './sms-delivery-outcomes';
import { SmsDeliveryRows } from './sms-delivery-rows';
import { SmsDispatcher } from './sms-dispatcher';
import { SmsOutboxEntity } from './sms-outbox.entity';
import { failedProvidersOf } from './sms-receipt-applier';

/** Delivers one claimed outbox row: skip, send, retry later or give up, and record the outcome. */
@Injectable()
export class SmsDeliveryService {
  constructor(
    private readonly clock: Clock,
    private readonly rows: SmsDeliveryRows,
    private readonly dispatcher: SmsDispatcher,
    private readonly outcomes: SmsDeliveryOutcomes,
  ) {}

  async deliver(row: SmsOutboxEntity): Promise<void> {
    const target = await this.rows.target(row, this.clock.now());
    if (!target) return;
    const failedBefore = failedProvidersOf(row);
    const sent = await this.dispatcher.send(row, target, failedBefore);
    const at = this.clock.now();
    if (sent.ok) return this.outcomes.accepted(row, sent.value, failedBefore, at);
    return this.outcomes.failed(row, sent.error, this.dispatcher.providerOf(row), at);
  }
}
