import { Injectable } from '@nestjs/common';
import { Database, Tx } from '../database/sql';
import { Clock } from '../common/clock';
import { hasPermission, INSTANCE, Role, Scope } from '../common/auth/caller';
import type { CallerRef } from '../common/auth/caller-ref';
import { UsersSettings } from './users.settings';
import { Errors } from '../common/errors/errors';
import { ChangeDetails, EventsRepository } from '../common/events/events.repository';
import { IdGenerator } from '../common/ids/id-generator';
import { AddOrganizationDto } from './dto/add-organization.dto';
import { OrganizationEntity } from './entities/organization.entity';
import { OrganizationsRepository } from './organizations.repository';
import { UsersRepository } from './users.repository';
import { UsersService } from './users.service';

/**
 * "ACME Corp." → "acme-corp.localhost"; the slug is one DNS label (≤ 63 characters, NFKD may lengthen the
 * name). A name without latin letters or digits ("日本") takes the organization's id, so two of them never clash.
 */
function domainOf(name: string, id: string, external: string): string {
  const slug = name
    .normalize('NFKD')
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .slice(0, 63)
    .replace(/^-+|-+$/g, '');
  return `${slug || id}.${external}`;
}

@Injectable()
export class OrganizationsService {
  constructor(
    private readonly config: UsersSettings,
    private readonly db: Database,
    private readonly orgs: OrganizationsRepository,
    private readonly users: UsersRepository,
    private readonly usersService: UsersService,
    private readonly events: EventsRepository,
    private readonly ids: IdGenerator,
    private readonly clock: Clock,
  ) {}

  async addOrganization(ref: CallerRef, req: AddOrganizationDto) {
    const { result, afterCommit } = await this.db.transaction(async (tx) => {
      const caller = await ref.within(tx);
      if (!hasPermission(caller, 'org.create')) throw Errors.permissionDenied();
      const { org, details } = await this.insertOrganization(
        tx,
        caller.userId,
        req.name,
        req.organizationId ?? req.orgId,
      );
      const createdAdmins: Array<{ userId: string; phoneCode?: string }> = [];
      const after: Array<() => void> = [];
      for (const admin of req.admins ?? []) {
        const roles = (admin.roles?.length ? admin.roles : ['ORG_OWNER']) as Role[];
        let userId: string;
        if (admin.human) {
          const created = await this.usersService.createHuman(tx, caller, org, admin.human);
          userId = created.user.id;
          createdAdmins.push({ userId, phoneCode: created.phoneCode });
          if (created.afterCommit) after.push(created.afterCommit);
        } else if (admin.userId) {
          const user = await this.users.findById(admin.userId, tx);
          if (!user) throw Errors.userNotFound();
          userId = user.id;
        } else {
          continue;
        }
        await this.grantRoles(tx, userId, org.id, roles);
      }
      return { result: { details, organizationId: org.id, createdAdmins }, afterCommit: after };
    });
    for (const wake of afterCommit) wake();
    return result;
  }

  /** Also used by first start. */
  async insertOrganization(
    tx: Tx,
    creator: string,
    name: string,
    id?: string,
  ): Promise<{ org: OrganizationEntity; details: ChangeDetails }> {
    const now = this.clock.now();
    const orgId = id ?? this.ids.next();
    const org: OrganizationEntity = {
      id: orgId,
      name,
      domain: domainOf(name, orgId, this.config.externalDomain),
      sequence: 0,
      createdAt: now,
      changedAt: now,
    };
    await this.orgs.insert(tx, org);
    const details = await this.events.append(
      tx,
      { target: OrganizationEntity, type: 'org', id: org.id, resourceOwner: org.id, sequence: 0 },
      [{ type: 'org.added', payload: { name, domain: org.domain } }],
      creator,
      now,
    );
    return { org, details };
  }

  /** `scope`: an organization id, or INSTANCE. */
  async grantRoles(tx: Tx, userId: string, scope: Scope, roles: Role[]) {
    const [orgId, instance] = scope === INSTANCE ? ['', true] : [scope, false];
    for (const role of roles) {
      await this.orgs.grant(tx, {
        id: this.ids.next(),
        userId,
        scope: orgId,
        instance,
        role,
        createdAt: this.clock.now(),
      });
    }
  }
}
