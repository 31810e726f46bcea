import { Column, Entity, Index, PrimaryColumn } from 'typeorm';
import { IdColumn, TimeColumn } from '../../database/columns';

@Entity({ name: 'events' })
@Index('UQ_events_aggregate_sequence', ['aggregateType', 'aggregateId', 'sequence'], { unique: true })
@Index('IDX_events_aggregate_type_time', ['aggregateId', 'type', 'createdAt'])
// the retention sweep finds the old events of a type whose phone numbers it redacts
@Index('IDX_events_type_time', ['type', 'createdAt'])
export class EventEntity {
  @PrimaryColumn({ type: 'varchar', length: 200 })
  id: string;

  @Column({ name: 'aggregate_type', type: 'varchar', length: 32 })
  aggregateType: string;

  @IdColumn('aggregate_id')
  aggregateId: string;

  @Column({ type: 'integer' })
  sequence: number;

  @Column({ type: 'varchar', length: 80 })
  type: string;

  @Column({ type: 'text' })
  payload: string;

  @IdColumn('creator')
  creator: string;

  @IdColumn('resource_owner')
  resourceOwner: string;

  @TimeColumn('created_at')
  createdAt: Date;
}
