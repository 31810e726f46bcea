import { Injectable } from '@nestjs/common';
import { SqlRepository, Tx } from '../../database/sql';

/** The node ids instances hold for ID generation, each until its lease expires. */
@Injectable()
export class NodeLeasesRepository extends SqlRepository {
  /** Takes `nodeId` over when its lease ran out before `now`. */
  async takeOver(tx: Tx, nodeId: number, holder: string, expiresAt: Date, now: Date): Promise<boolean> {
    const changed = await this.db.execute(
      tx,
      'UPDATE node_leases SET holder = $1, expires_at = $2 WHERE node_id = $3 AND expires_at < $4',
      [holder, expiresAt.getTime(), nodeId, now.getTime()],
    );
    return changed > 0;
  }

  /** Leases a node id nobody held yet; false when another instance holds it. */
  async insert(tx: Tx, nodeId: number, holder: string, expiresAt: Date): Promise<boolean> {
    const inserted = await this.db.execute(
      tx,
      'INSERT INTO node_leases (node_id, holder, expires_at) VALUES ($1, $2, $3) ON CONFLICT (node_id) DO NOTHING',
      [nodeId, holder, expiresAt.getTime()],
    );
    return inserted > 0;
  }

  /** Extends `holder`'s lease of `nodeId`; false when it is no longer `holder`'s. */
  async renew(tx: Tx, nodeId: number, holder: string, expiresAt: Date): Promise<boolean> {
    const changed = await this.db.execute(
      tx,
      'UPDATE node_leases SET expires_at = $1 WHERE node_id = $2 AND holder = $3',
      [expiresAt.getTime(), nodeId, holder],
    );
    return changed > 0;
  }

  async release(tx: Tx, nodeId: number, holder: string): Promise<void> {
    await this.db.execute(tx, 'DELETE FROM node_leases WHERE node_id = $1 AND holder = $2', [nodeId, holder]);
  }
}
