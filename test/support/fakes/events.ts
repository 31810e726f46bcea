import type {
  Aggregate,
  ChangeDetails,
  EventsRepository,
  NewEvent,
} from '../../../src/common/events/events.repository';
import type { Tx } from './transactions';

export interface AppendedEvent extends NewEvent {
  aggregateId: string;
  sequence: number;
  creator: string;
  at: Date;
}

/** The events table in memory: appends move the aggregate's sequence as the real store does. */
export class FakeEvents implements Pick<EventsRepository, 'append'> {
  readonly appended: AppendedEvent[] = [];

  async append(
    _tx: Tx,
    aggregate: Aggregate,
    events: NewEvent[],
    creator: string,
    at = new Date(),
  ): Promise<ChangeDetails> {
    for (const event of events) {
      aggregate.sequence += 1;
      this.appended.push({ ...event, aggregateId: aggregate.id, sequence: aggregate.sequence, creator, at });
    }
    return { sequence: aggregate.sequence, changeDate: at, resourceOwner: aggregate.resourceOwner };
  }

  typesOf(aggregateId: string): string[] {
    return this.appended.filter((e) => e.aggregateId === aggregateId).map((e) => e.type);
  }
}
