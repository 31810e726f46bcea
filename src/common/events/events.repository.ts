import { Injectable } from '@nestjs/common';
import { Clock } from '../clock';
import { changedNothing, Database, EntityClass, SqlRepository, Tx } from '../../database/sql';
import { AppError } from '../errors/app-error';
import { GrpcStatus } from '../errors/grpc-status';
import { IdGenerator } from '../ids/id-generator';
import { AppendedEvent, EventContext, EventTaps } from './event-taps';

/** What a change hands back to its caller (contract §5). */
export interface ChangeDetails {
  sequence: number;
  changeDate: Date;
  resourceOwner: string;
  creationDate?: Date;
}

export interface Aggregate {
  /** The table that holds the aggregate's current `sequence` (users or organizations). */
  target: EntityClass<{ id: string; sequence: number; changedAt: Date }>;
  type: 'user' | 'org';
  id: string;
  resourceOwner: string;
  /** The sequence the caller loaded (under a row lock on PostgreSQL). */
  sequence: number;
}

/** Where a walk through events in time order stands: created at (epoch ms), then id. */
export interface EventPosition {
  createdAt: number;
  id: string;
}

export interface NewEvent {
  type: string;
  payload?: Record<string, unknown>;
}

const escapeLike = (text: string) => text.replace(/[\\%_]/g, (c) => `\\${c}`);

const INSERT_EVENTS =
  'INSERT INTO events (id, aggregate_type, aggregate_id, sequence, type, payload, creator, resource_owner, created_at)';

/**
 * The placeholders of `count` events' nine columns, numbered after the first `offset` parameters;
 * `typed` casts the two numeric ones (PostgreSQL cannot infer them in a SELECT list).
 */
function eventRows(count: number, offset: number, typed: boolean): string[] {
  return Array.from({ length: count }, (_, i) => {
    const p = (k: number) => `$${offset + i * 9 + k + 1}`;
    const int = typed ? '::integer' : '';
    const big = typed ? '::bigint' : '';
    return [p(0), p(1), p(2), `${p(3)}${int}`, p(4), p(5), p(6), p(7), `${p(8)}${big}`].join(', ');
  });
}

/** An append's statements: PostgreSQL's one, or SQLite's move and insert. */
interface AppendSql {
  move: string;
  moveAndInsert?: string;
  insert?: string;
}

/**
 * Appends events in the caller's transaction: the sequence moves by a conditional update and
 * (aggregate, sequence) is unique, so racing requests leave no gap and no duplicate.
 */
@Injectable()
export class EventsRepository extends SqlRepository {
  /** by table and number of events: a bounded set (two tables, the few counts use-cases append) */
  private readonly sqlByShape = new Map<string, AppendSql>();

  constructor(
    db: Database,
    private readonly ids: IdGenerator,
    private readonly clock: Clock,
    private readonly taps: EventTaps,
  ) {
    super(db);
  }

  async append(
    tx: Tx,
    aggregate: Aggregate,
    events: NewEvent[],
    creator: string,
    at: Date = this.clock.now(),
    context: EventContext = {},
  ): Promise<ChangeDetails> {
    const last = aggregate.sequence + events.length;
    const sql = this.statements(this.db.table(aggregate.target), events.length);
    const moveParams = [last, at.getTime(), aggregate.id, aggregate.sequence];
    const appended: AppendedEvent[] = events.map((event, i) => ({
      id: this.ids.next(),
      type: event.type,
      payload: event.payload ?? {},
      sequence: aggregate.sequence + i + 1,
      createdAt: at,
    }));
    const eventParams = appended.flatMap((event) => [
      event.id,
      aggregate.type,
      aggregate.id,
      event.sequence,
      event.type,
      JSON.stringify(event.payload),
      creator,
      aggregate.resourceOwner,
      at.getTime(),
    ]);
    const concurrently = () =>
      new AppError(GrpcStatus.ABORTED, 'EVENT-c0nc1', 'The resource was changed concurrently, try again');
    if (sql.moveAndInsert) {
      const appending = this.db.execute(tx, sql.moveAndInsert, [...moveParams, ...eventParams]);
      // issued with the append: should the append fail, the transaction rolls them back with it
      const tapped = this.taps.written(tx, aggregate, appended, context);
      await Promise.all([appending, ...tapped]).catch((error: unknown) => {
        throw changedNothing(error) ? concurrently() : error;
      });
    } else {
      const moved = (await this.db.execute(tx, sql.move, moveParams)) > 0;
      if (!moved) throw concurrently();
      if (sql.insert) await this.db.execute(tx, sql.insert, eventParams);
      await Promise.all(this.taps.written(tx, aggregate, appended, context));
    }
    aggregate.sequence = last;
    return { sequence: last, changeDate: at, resourceOwner: aggregate.resourceOwner };
  }

  /**
   * Up to `limit` events of `type` created before `before` whose payload does not hold `marker`,
   * after the position `after` (created at, then id: the last one a previous call returned),
   * oldest first: the index on type and time.
   */
  async ofTypeBefore(
    type: string,
    before: Date,
    after: EventPosition,
    limit: number,
    marker: string,
  ): Promise<Array<EventPosition & { payload: string }>> {
    const rows = await this.db.rows<{ id: string; payload: string; created_at: number | string }>(
      undefined,
      'SELECT id, payload, created_at FROM events WHERE type = $1 AND created_at < $2 ' +
        "AND (created_at > $3 OR (created_at = $4 AND id > $5)) AND payload NOT LIKE $6 ESCAPE '\\' " +
        'ORDER BY created_at, id LIMIT $7',
      [type, before.getTime(), after.createdAt, after.createdAt, after.id, `%${escapeLike(marker)}%`, limit],
    );
    return rows.map((row) => ({ id: row.id, payload: row.payload, createdAt: Number(row.created_at) }));
  }

  /** Rewrites an event's payload (retention redacts what it must not keep); its sequence and type stay. */
  async rewritePayload(tx: Tx, id: string, payload: Record<string, unknown>): Promise<void> {
    await this.db.execute(tx, 'UPDATE events SET payload = $1 WHERE id = $2', [JSON.stringify(payload), id]);
  }

  /** The statements that append `count` events to an aggregate of `table`, written once per shape. */
  private statements(table: string, count: number): AppendSql {
    const shape = `${table}/${count}`;
    let sql = this.sqlByShape.get(shape);
    if (sql) return sql;
    const move = `UPDATE "${table}" SET sequence = $1, changed_at = $2 WHERE id = $3 AND sequence = $4 RETURNING id`;
    if (this.db.dialect === 'postgres' && count > 0) {
      // one statement that fails when the sequence did not move, so it may travel with COMMIT (ADR 0011)
      const rows = eventRows(count, 4, true).map((row) => `SELECT ${row} FROM moved`);
      sql = {
        move,
        moveAndInsert:
          `WITH moved AS (${move}), written AS (${INSERT_EVENTS} ${rows.join(' UNION ALL ')} RETURNING id) ` +
          'SELECT 1 / (SELECT count(*)::integer FROM moved) AS moved, (SELECT count(*) FROM written) AS written',
      };
    } else {
      const rows = eventRows(count, 0, false).map((row) => `(${row})`);
      sql = { move, insert: count > 0 ? `${INSERT_EVENTS} VALUES ${rows.join(', ')}` : undefined };
    }
    this.sqlByShape.set(shape, sql);
    return sql;
  }
}
