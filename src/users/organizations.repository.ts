import { Injectable } from '@nestjs/common';
import type { Grant, Role } from '../common/auth/caller';
import { grantOf } from './callers.repository';
import { Errors } from '../common/errors/errors';
import { SqlRepository, Tx } from '../database/sql';
import { isUniqueViolation } from '../database/unique-violation';
import { MembershipEntity } from './entities/membership.entity';
import { OrganizationEntity } from './entities/organization.entity';

@Injectable()
export class OrganizationsRepository extends SqlRepository {
  /** Organization domains never change once created, so reads keep them. */
  private readonly domains = new Map<string, string>();

  async domainOf(orgId: string): Promise<string | undefined> {
    const cached = this.domains.get(orgId);
    if (cached) return cached;
    const org = await this.findById(orgId);
    if (org) this.domains.set(orgId, org.domain);
    return org?.domain;
  }

  async findById(id: string, tx?: Tx): Promise<OrganizationEntity | null> {
    const [org] = await this.db.select(tx, OrganizationEntity, 'id = $1', [id]);
    return org ?? null;
  }

  async findByDomain(domain: string, tx?: Tx): Promise<OrganizationEntity | null> {
    const [org] = await this.db.select(tx, OrganizationEntity, 'domain = $1', [domain]);
    return org ?? null;
  }

  async count(tx?: Tx): Promise<number> {
    const [row] = await this.db.rows<{ n: number | string }>(tx, 'SELECT COUNT(*) AS n FROM organizations');
    return Number(row.n);
  }

  async insert(tx: Tx, org: OrganizationEntity): Promise<void> {
    try {
      await this.db.insert(tx, OrganizationEntity, org);
    } catch (error) {
      if (isUniqueViolation(error)) throw Errors.orgAlreadyExists();
      throw error;
    }
  }

  /** A role the user holds already stays as it was. */
  async grant(tx: Tx, membership: MembershipEntity): Promise<void> {
    await this.db.insert(tx, MembershipEntity, membership, ' ON CONFLICT DO NOTHING');
  }

  /** Every role `userId` holds, on any organization or instance-wide. */
  async grantsOf(tx: Tx, userId: string): Promise<Grant[]> {
    const rows = await this.db.rows<{ scope: string; instance: boolean | number; role: Role }>(
      tx,
      'SELECT scope, instance, role FROM memberships WHERE user_id = $1',
      [userId],
    );
    return rows.map(grantOf);
  }

  async revokeAll(tx: Tx, userId: string): Promise<void> {
    await this.db.execute(tx, 'DELETE FROM memberships WHERE user_id = $1', [userId]);
  }
}
