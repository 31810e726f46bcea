import { Injectable } from '@nestjs/common';
import { Clock } from '../clock';
import { EntityManager, EntityTarget } from 'typeorm';
import { AppError } from '../errors/app-error';
import { GrpcStatus } from '../errors/grpc-status';
import { IdGenerator } from '../ids/id-generator';
import { EventEntity } from './event.entity';

/** What a change hands back to its caller (contract §5). */
export interface ChangeDetails {
  sequence: number;
  changeDate: Date;
  resourceOwner: string;
  creationDate?: Date;
}

export interface Aggregate {
  /** The table that holds the aggregate's current `sequence` (users or organizations). */
  target: EntityTarget<{ id: string; sequence: number; changedAt: Date }>;
  type: 'user' | 'org';
  id: string;
  resourceOwner: string;
  /** The sequence the caller loaded (under a row lock on PostgreSQL). */
  sequence: number;
}

export interface NewEvent {
  type: string;
  payload?: Record<string, unknown>;
}

/**
 * Appends events in the caller's transaction. The aggregate's sequence moves from the loaded
 * value to the new one with a conditional update, and (aggregate, sequence) is unique, so a
 * sequence can never have a gap or a duplicate even when requests race.
 */
@Injectable()
export class EventStore {
  constructor(
    private readonly ids: IdGenerator,
    private readonly clock: Clock,
  ) {}

  async append(
    manager: EntityManager,
    aggregate: Aggregate,
    events: NewEvent[],
    creator: string,
    at: Date = this.clock.now(),
  ): Promise<ChangeDetails> {
    const last = aggregate.sequence + events.length;
    const moved = await manager.update(
      aggregate.target,
      { id: aggregate.id, sequence: aggregate.sequence },
      { sequence: last, changedAt: at },
    );
    if (!moved.affected) {
      throw new AppError(GrpcStatus.ABORTED, 'EVENT-c0nc1', 'The resource was changed concurrently, try again');
    }
    await manager.insert(
      EventEntity,
      events.map((event, i) => ({
        id: this.ids.next(),
        aggregateType: aggregate.type,
        aggregateId: aggregate.id,
        sequence: aggregate.sequence + i + 1,
        type: event.type,
        payload: JSON.stringify(event.payload ?? {}),
        creator,
        resourceOwner: aggregate.resourceOwner,
        createdAt: at,
      })),
    );
    aggregate.sequence = last;
    return { sequence: last, changeDate: at, resourceOwner: aggregate.resourceOwner };
  }
}
