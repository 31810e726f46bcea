import { Column, Entity, PrimaryColumn } from 'typeorm';
import { TimeColumn } from '../../database/columns';

/** One row per running instance: the node id it holds for ID generation, until the lease expires. */
@Entity({ name: 'node_leases' })
export class NodeLeaseEntity {
  @PrimaryColumn({ name: 'node_id', type: 'integer' })
  nodeId: number;

  @Column({ type: 'varchar', length: 64 })
  holder: string;

  @TimeColumn('expires_at')
  expiresAt: Date;
}
