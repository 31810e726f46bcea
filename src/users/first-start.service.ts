import { Injectable, OnApplicationBootstrap } from '@nestjs/common';
import { Database } from '../database/sql';
import { chmodSync, existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { AppLogger } from '../common/logging/app-logger';
import { UsersSettings } from './users.settings';
import { AppError } from '../common/errors/app-error';
import { StartupError } from '../common/startup/startup-error';
import { GrpcStatus } from '../common/errors/grpc-status';
import { Caller, INSTANCE } from '../common/auth/caller';
import { OrganizationsRepository } from './organizations.repository';
import { OrganizationsService } from './organizations.service';
import { NO_EXPIRY, UsersService } from './users.service';

const ADMIN_USERNAME = 'admin';

/**
 * An empty instance gets a default organization, a machine user with IAM_OWNER and a personal
 * access token in FIRST_INSTANCE_PAT_PATH (0600). Later starts change nothing.
 */
@Injectable()
export class FirstStartService implements OnApplicationBootstrap {
  constructor(
    private readonly config: UsersSettings,
    private readonly db: Database,
    private readonly orgs: OrganizationsRepository,
    private readonly organizations: OrganizationsService,
    private readonly users: UsersService,
    private readonly logger: AppLogger,
  ) {
    logger.setContext(FirstStartService.name);
  }

  async onApplicationBootstrap(): Promise<void> {
    const path = resolve(this.config.firstInstancePatPath);
    const token = await this.setUp(path).catch((error: unknown) => {
      // another instance sharing the database won the race to set it up
      if (error instanceof AppError && error.code === GrpcStatus.ALREADY_EXISTS) return undefined;
      throw error;
    });
    if (token) this.logger.info({ path }, 'first start: created the instance; the admin token is in this file');
    else this.logger.info({ path }, 'instance already set up; the admin token (from first start) is in this file');
  }

  private setUp(path: string): Promise<string | undefined> {
    return this.db.transaction(async (tx) => {
      if ((await this.orgs.count(tx)) > 0) return undefined;
      const { org } = await this.organizations.insertOrganization(tx, 'SYSTEM', this.config.firstInstanceOrgName);
      const system: Caller = {
        userId: 'SYSTEM',
        orgId: org.id,
        grants: [{ scope: INSTANCE, role: 'IAM_OWNER' }],
      };
      const { user } = await this.users.createMachine(tx, system, org, {
        username: ADMIN_USERNAME,
        name: 'Administrator',
        description: 'created at first start',
      });
      await this.organizations.grantRoles(tx, user.id, INSTANCE, ['IAM_OWNER']);
      const created = await this.users.issueToken(tx, 'SYSTEM', user, NO_EXPIRY);
      if (existsSync(path)) {
        // most often the token file of another database (the quick start's SQLite one)
        throw new StartupError(
          `first start: ${path} already exists; refusing to overwrite it. ` +
            'Set FIRST_INSTANCE_PAT_PATH to a new file for this database, or move the old file away',
          { setting: 'FIRST_INSTANCE_PAT_PATH', path },
        );
      }
      mkdirSync(dirname(path), { recursive: true });
      writeFileSync(path, `${created.token}\n`, { mode: 0o600, flag: 'wx' });
      chmodSync(path, 0o600);
      return created.token;
    });
  }
}
