import { Injectable, OnModuleInit } from '@nestjs/common';
import { Clock } from '../common/clock';
import { createHash, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createLocalJWKSet, createRemoteJWKSet, JWTVerifyGetKey, jwtVerify } from 'jose';
import { PinoLogger } from 'nestjs-pino';
import { Caller } from '../common/auth/caller';
import { CallerResolver } from '../common/auth/caller-resolver';
import { AppConfig } from '../common/config/app-config.module';
import { UserState } from './entities/user.entity';
import { OrganizationsRepository } from './organizations.repository';
import { TokensRepository } from './tokens.repository';
import { UsersRepository } from './users.repository';

const JWT_SHAPE = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$/;

export function hashToken(token: string): string {
  return createHash('sha256').update(token).digest('hex');
}

/** 32 random bytes, base64url: shown once, stored only as its SHA-256. */
export function newTokenSecret(): string {
  return randomBytes(32).toString('base64url');
}

/** Resolves personal access tokens and, when an issuer is configured, JWT access tokens. */
@Injectable()
export class TokenService extends CallerResolver implements OnModuleInit {
  private jwks?: JWTVerifyGetKey;

  constructor(
    private readonly config: AppConfig,
    private readonly tokens: TokensRepository,
    private readonly users: UsersRepository,
    private readonly orgs: OrganizationsRepository,
    private readonly logger: PinoLogger,
    private readonly clock: Clock,
  ) {
    super();
    logger.setContext(TokenService.name);
  }

  onModuleInit(): void {
    if (this.config.OIDC_JWKS_URL) {
      this.jwks = createRemoteJWKSet(new URL(this.config.OIDC_JWKS_URL));
    } else if (this.config.OIDC_JWKS_FILE) {
      this.jwks = createLocalJWKSet(JSON.parse(readFileSync(this.config.OIDC_JWKS_FILE, 'utf8')));
    }
    if (this.jwks && !this.config.OIDC_ISSUER) {
      throw new Error('Invalid configuration:\n  OIDC_ISSUER: required when OIDC_JWKS_URL or OIDC_JWKS_FILE is set');
    }
  }

  async resolve(token: string): Promise<Caller | undefined> {
    const userId = JWT_SHAPE.test(token) && this.jwks ? await this.subjectOf(token) : await this.patOwner(token);
    if (!userId) return undefined;
    const user = await this.users.findById(userId);
    if (!user || user.state !== UserState.ACTIVE) return undefined;
    const grants = await this.orgs.grantsOf(user.id);
    return { userId: user.id, orgId: user.orgId, grants: grants.map((g) => ({ scope: g.scope, role: g.role })) };
  }

  private async patOwner(token: string): Promise<string | undefined> {
    const pat = await this.tokens.findByHash(hashToken(token));
    if (!pat || pat.expiresAt.getTime() <= this.clock.now().getTime()) return undefined;
    return pat.userId;
  }

  private async subjectOf(token: string): Promise<string | undefined> {
    try {
      const { payload } = await jwtVerify(token, this.jwks!, {
        issuer: this.config.OIDC_ISSUER,
        audience: this.config.OIDC_AUDIENCE,
        currentDate: this.clock.now(),
      });
      return typeof payload.sub === 'string' ? payload.sub : undefined;
    } catch (error) {
      this.logger.debug({ reason: (error as Error).name }, 'JWT rejected');
      return undefined;
    }
  }
}
