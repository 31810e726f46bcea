import { Injectable, OnModuleInit } from '@nestjs/common';
import { Clock } from '../common/clock';
import { createHash, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createLocalJWKSet, createRemoteJWKSet, JWTVerifyGetKey } from 'jose';
import { AppLogger } from '../common/logging/app-logger';
import { AccessTokenPolicy, normalizedType, verifyAccessToken } from '../common/auth/access-token-verifier';
import { Caller } from '../common/auth/caller';
import { CallerResolver } from '../common/auth/caller-resolver';
import { AuthSettings } from '../common/auth/auth.settings';
import type { Tx } from '../database/sql';
import { CallersRepository } from './callers.repository';

/** ZITADEL's claim naming the organization of the token's user: where present, it must be the user's. */
export const RESOURCE_OWNER_CLAIM = 'urn:zitadel:iam:user:resourceowner:id';

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
  private policy?: AccessTokenPolicy;

  constructor(
    private readonly config: AuthSettings,
    private readonly callers: CallersRepository,
    private readonly logger: AppLogger,
    private readonly clock: Clock,
  ) {
    super();
    logger.setContext(TokenService.name);
  }

  onModuleInit(): void {
    if (this.config.jwksUrl) {
      this.jwks = createRemoteJWKSet(new URL(this.config.jwksUrl));
    } else if (this.config.jwksFile) {
      this.jwks = createLocalJWKSet(JSON.parse(readFileSync(this.config.jwksFile, 'utf8')));
    }
    if (this.jwks && !this.config.issuer) {
      throw new Error('Invalid configuration:\n  OIDC_ISSUER: required when OIDC_JWKS_URL or OIDC_JWKS_FILE is set');
    }
    const list = (value: string) => value.split(',').map((item) => item.trim());
    // OIDC_AUDIENCE is set whenever a JWKS is (validateEnvironment)
    this.policy = {
      issuer: this.config.issuer ?? '',
      audience: this.config.audience ?? '',
      algorithms: list(this.config.algorithms),
      types: list(this.config.tokenTypes).map(normalizedType),
    };
  }

  async resolve(token: string, tx?: Tx): Promise<Caller | undefined> {
    if (!(JWT_SHAPE.test(token) && this.jwks)) return this.callers.byTokenHash(hashToken(token), this.clock.now(), tx);
    const subject = await this.subjectOf(token);
    return subject ? this.callers.byUserId(subject.userId, tx, subject.orgId) : undefined;
  }

  /** The user a JWT names and, where it names one (ZITADEL's claim), the user's organization. */
  private async subjectOf(token: string): Promise<{ userId: string; orgId?: string } | undefined> {
    try {
      const payload = await verifyAccessToken(token, this.jwks!, this.policy!, this.clock.now());
      const orgId = payload[RESOURCE_OWNER_CLAIM];
      if (orgId !== undefined && typeof orgId !== 'string') return undefined;
      return { userId: payload.sub, orgId };
    } catch (error) {
      this.logger.debug({ reason: (error as Error).name }, 'JWT rejected');
      return undefined;
    }
  }
}
