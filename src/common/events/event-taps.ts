import { Injectable } from '@nestjs/common';
import type { Tx } from '../../database/sql';
import type { Aggregate } from './events.repository';

/** An event as it was appended: its id, sequence and time are the stored ones. */
export interface AppendedEvent {
  id: string;
  type: string;
  payload: Record<string, unknown>;
  sequence: number;
  createdAt: Date;
}

/** What the use-case knows about its events and does not store in them: read by the taps only. */
export interface EventContext {
  /** the request's correlation id (RequestOrigin.requestId), or the one that queued the work */
  correlationId?: string;
  /** the number the events are about (E.164); a tap keeps no more of it than it must */
  phone?: string | null;
}

/** Writes of its own for appended events, in the appending transaction; undefined when it has none. */
export type EventTap = (
  tx: Tx,
  aggregate: Aggregate,
  events: AppendedEvent[],
  context: EventContext,
) => Promise<unknown> | undefined;

/**
 * The features that write something with every append (the webhook outbox), registered from the
 * feature so that src/common knows none. Their writes share the append's transaction: an event
 * rolled back leaves nothing of theirs behind.
 */
@Injectable()
export class EventTaps {
  private readonly taps: EventTap[] = [];

  register(tap: EventTap): void {
    this.taps.push(tap);
  }

  /** The taps' writes, issued now (they leave with the append's statements on PostgreSQL). */
  written(tx: Tx, aggregate: Aggregate, events: AppendedEvent[], context: EventContext): Promise<unknown>[] {
    const writes: Promise<unknown>[] = [];
    for (const tap of this.taps) {
      const write = tap(tx, aggregate, events, context);
      if (write) writes.push(write);
    }
    return writes;
  }
}
