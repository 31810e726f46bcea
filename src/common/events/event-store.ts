import { Injectable } from '@nestjs/common';
import { Clock } from '../clock';
import { EntityManager, EntityTarget } from 'typeorm';
import { queryRows } from '../database/raw-sql';
import { AppError } from '../errors/app-error';
import { GrpcStatus } from '../errors/grpc-status';
import { IdGenerator } from '../ids/id-generator';

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
    const table = manager.connection.getMetadata(aggregate.target).tableName;
    const moved = await queryRows(
      manager,
      `UPDATE "${table}" SET sequence = $1, changed_at = $2 WHERE id = $3 AND sequence = $4 RETURNING id`,
      [last, at.getTime(), aggregate.id, aggregate.sequence],
    );
    if (moved.length === 0) {
      throw new AppError(GrpcStatus.ABORTED, 'EVENT-c0nc1', 'The resource was changed concurrently, try again');
    }
    const values: unknown[] = [];
    const tuples = events.map((event, i) => {
      const n = values.length;
      values.push(
        this.ids.next(),
        aggregate.type,
        aggregate.id,
        aggregate.sequence + i + 1,
        event.type,
        JSON.stringify(event.payload ?? {}),
        creator,
        aggregate.resourceOwner,
        at.getTime(),
      );
      return `(${Array.from({ length: 9 }, (_, k) => `$${n + k + 1}`).join(', ')})`;
    });
    await queryRows(
      manager,
      `INSERT INTO events (id, aggregate_type, aggregate_id, sequence, type, payload, creator, resource_owner, created_at) VALUES ${tuples.join(', ')}`,
      values,
    );
    aggregate.sequence = last;
    return { sequence: last, changeDate: at, resourceOwner: aggregate.resourceOwner };
  }
}
