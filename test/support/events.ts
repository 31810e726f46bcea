import { EventEntity } from '../../src/common/events/event.entity';
import { dataSourceOf, TestApp } from './test-app';

/** An event as the events table holds it, its payload parsed and its time in epoch milliseconds. */
export interface StoredEvent {
  sequence: number;
  type: string;
  payload: Record<string, any>;
  creator: string;
  resourceOwner: string;
  createdAt: number;
}

/** The aggregate's events in sequence order, read from the table (not through the app). */
export async function eventsOf(t: TestApp, aggregateId: string): Promise<StoredEvent[]> {
  const rows = await dataSourceOf(t)
    .getRepository(EventEntity)
    .find({ where: { aggregateId }, order: { sequence: 'ASC' } });
  return rows.map((e) => ({
    sequence: e.sequence,
    type: e.type,
    payload: JSON.parse(e.payload) as Record<string, any>,
    creator: e.creator,
    resourceOwner: e.resourceOwner,
    createdAt: e.createdAt.getTime(),
  }));
}

/** The types of the aggregate's events that start with `prefix`, in order. */
export async function eventTypesOf(t: TestApp, aggregateId: string, prefix = ''): Promise<string[]> {
  return (await eventsOf(t, aggregateId)).map((e) => e.type).filter((type) => type.startsWith(prefix));
}
