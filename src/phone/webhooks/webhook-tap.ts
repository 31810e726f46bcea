import { Injectable } from '@nestjs/common';
import { AppendedEvent, EventContext, EventTaps } from '../../common/events/event-taps';
import type { Aggregate } from '../../common/events/events.repository';
import { IdGenerator } from '../../common/ids/id-generator';
import type { Tx } from '../../database/sql';
import { webhookBodyOf } from './webhook-events';
import { WebhookOutboxEntity } from './webhook-outbox.entity';
import { WebhookOutboxRepository } from './webhook-outbox.repository';
import { WebhookSettings } from './webhook.settings';

/**
 * Turns a user's phone events into webhook-outbox rows, one per endpoint that wants the type, in
 * the transaction that appends them: an event that commits is delivered, one rolled back is not.
 */
@Injectable()
export class WebhookTap {
  constructor(
    taps: EventTaps,
    private readonly config: WebhookSettings,
    private readonly outbox: WebhookOutboxRepository,
    private readonly ids: IdGenerator,
  ) {
    if (config.endpoints().length > 0)
      taps.register((tx, aggregate, events, context) => this.write(tx, aggregate, events, context));
  }

  /** The rows of `events`: none when no endpoint wants them (and then no statement). */
  rowsOf(aggregate: Aggregate, events: AppendedEvent[], context: EventContext): WebhookOutboxEntity[] {
    if (aggregate.type !== 'user') return [];
    const rows: WebhookOutboxEntity[] = [];
    for (const event of events) {
      const body = webhookBodyOf(event, { org: aggregate.resourceOwner, user: aggregate.id }, context);
      if (!body) continue;
      const text = JSON.stringify(body);
      for (const endpoint of this.config.endpoints()) {
        if (!endpoint.types.has(body.type)) continue;
        rows.push({
          id: this.ids.next(),
          eventId: event.id,
          eventType: body.type,
          endpoint: endpoint.url,
          userId: aggregate.id,
          sequence: event.sequence,
          body: text,
          status: 'pending',
          attempts: 0,
          nextAttemptAt: event.createdAt,
          lockedUntil: null,
          createdAt: event.createdAt,
          giveUpAt: new Date(event.createdAt.getTime() + this.config.maxAgeMs),
          finishedAt: null,
          lastError: null,
        });
      }
    }
    return rows;
  }

  private write(tx: Tx, aggregate: Aggregate, events: AppendedEvent[], context: EventContext) {
    const rows = this.rowsOf(aggregate, events, context);
    return rows.length > 0 ? this.outbox.enqueue(tx, rows) : undefined;
  }
}
