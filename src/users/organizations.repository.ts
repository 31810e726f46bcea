import { Injectable } from '@nestjs/common';
import { DataSource, EntityManager } from 'typeorm';
import { Errors } from '../common/errors/errors';
import { isUniqueViolation } from '../database/unique-violation';
import { MembershipEntity } from './entities/membership.entity';
import { OrganizationEntity } from './entities/organization.entity';

@Injectable()
export class OrganizationsRepository {
  /** Organization domains never change once created, so reads keep them. */
  private readonly domains = new Map<string, string>();

  constructor(private readonly dataSource: DataSource) {}

  async domainOf(orgId: string): Promise<string | undefined> {
    const cached = this.domains.get(orgId);
    if (cached) return cached;
    const org = await this.findById(orgId);
    if (org) this.domains.set(orgId, org.domain);
    return org?.domain;
  }

  findById(id: string, manager: EntityManager = this.dataSource.manager): Promise<OrganizationEntity | null> {
    return manager.findOne(OrganizationEntity, { where: { id } });
  }

  findByDomain(domain: string, manager: EntityManager = this.dataSource.manager): Promise<OrganizationEntity | null> {
    return manager.findOne(OrganizationEntity, { where: { domain } });
  }

  count(manager: EntityManager = this.dataSource.manager): Promise<number> {
    return manager.count(OrganizationEntity);
  }

  async insert(manager: EntityManager, org: OrganizationEntity): Promise<void> {
    try {
      await manager.insert(OrganizationEntity, org);
    } catch (error) {
      if (isUniqueViolation(error)) throw Errors.orgAlreadyExists();
      throw error;
    }
  }

  async grant(manager: EntityManager, membership: MembershipEntity): Promise<void> {
    await manager.createQueryBuilder().insert().into(MembershipEntity).values(membership).orIgnore().execute();
  }

  async revokeAll(manager: EntityManager, userId: string): Promise<void> {
    await manager.delete(MembershipEntity, { userId });
  }
}
