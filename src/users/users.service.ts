import { Injectable } from '@nestjs/common';
import { closing, Database, Tx } from '../database/sql';
import { Clock } from '../common/clock';
import { assertAllowed, assertHoldsAllOf } from '../common/auth/access-policy';
import { Caller } from '../common/auth/caller';
import type { CallerRef } from '../common/auth/caller-ref';
import type { RequestOrigin } from '../common/throttle/client-address';
import { Errors } from '../common/errors/errors';
import { ChangeDetails, EventsRepository, NewEvent } from '../common/events/events.repository';
import { IdGenerator } from '../common/ids/id-generator';
import { PhoneVerificationService } from '../phone/phone-verification.service';
import { verificationOf } from '../phone/dto/phone-requests.dto';
import { GENDERS, OrganizationRefDto, SetHumanEmailDto, SetHumanPhoneDto, SetHumanProfileDto } from './dto/common.dto';
import { AddHumanUserDto } from './dto/add-human-user.dto';
import { CreateUserDto } from './dto/create-user.dto';
import { OrganizationEntity } from './entities/organization.entity';
import { aggregateOf, UserEntity, UserState } from './entities/user.entity';
import { OrganizationsRepository } from './organizations.repository';
import { newTokenSecret, hashToken } from './token.service';
import { TokensRepository } from './tokens.repository';
import { assertMayChooseId, defaultDisplayName, newUserRecord, STATE_CHANGES, StateChange } from './user-records';
import { userView } from './user-view';
import { UsersRepository } from './users.repository';

export interface NewHuman {
  userId?: string;
  username?: string;
  profile: SetHumanProfileDto;
  email: SetHumanEmailDto;
  phone?: SetHumanPhoneDto;
}

export interface NewMachine {
  userId?: string;
  username?: string;
  name: string;
  description?: string;
}

export interface CreatedUser {
  user: UserEntity;
  details: ChangeDetails;
  phoneCode?: string;
  afterCommit?: () => void;
}

/** The expiry of a token issued without one (as ZITADEL: the end of year 9999). */
export const NO_EXPIRY = new Date('9999-12-31T23:59:59Z');

/** Users: creation (human and machine), reads, state changes, deletion, personal access tokens. */
@Injectable()
export class UsersService {
  constructor(
    private readonly db: Database,
    private readonly users: UsersRepository,
    private readonly orgs: OrganizationsRepository,
    private readonly tokens: TokensRepository,
    private readonly events: EventsRepository,
    private readonly ids: IdGenerator,
    private readonly phones: PhoneVerificationService,
    private readonly clock: Clock,
  ) {}

  addHuman(ref: CallerRef, req: AddHumanUserDto, origin?: RequestOrigin) {
    return this.phones.once({ ref, method: 'AddHumanUser', origin, request: req }, () =>
      this.addHumanOnce(ref, req, origin),
    );
  }

  private async addHumanOnce(ref: CallerRef, req: AddHumanUserDto, origin?: RequestOrigin) {
    const created = await this.inOrgTransaction(ref, req.organization, (tx, org, caller) =>
      this.createHuman(tx, caller, org, req, origin),
    );
    created.afterCommit?.();
    return { userId: created.user.id, details: created.details, phoneCode: created.phoneCode };
  }

  async createUser(ref: CallerRef, req: CreateUserDto, origin?: RequestOrigin) {
    const created = await this.inOrgTransaction(ref, { orgId: req.organizationId }, (tx, org, caller) =>
      req.human
        ? this.createHuman(tx, caller, org, { ...req.human, userId: req.userId, username: req.username }, origin)
        : this.createMachine(tx, caller, org, {
            userId: req.userId,
            username: req.username,
            name: req.machine!.name,
            description: req.machine!.description,
          }),
    );
    created.afterCommit?.();
    return { id: created.user.id, creationDate: created.details.changeDate, phoneCode: created.phoneCode };
  }

  async getById(ref: CallerRef, userId: string) {
    // looked up side by side; the caller is checked first
    const [caller, user] = await Promise.all([ref.resolve(), this.users.findById(userId)]);
    if (!user) throw Errors.userNotFound();
    assertAllowed(caller, 'user.read', user, true, Errors.userNotFound);
    const domain = await this.orgs.domainOf(user.orgId);
    if (!domain) throw Errors.userNotFound();
    return userView(user, domain);
  }

  async changeState(ref: CallerRef, userId: string, change: StateChange): Promise<ChangeDetails> {
    const rule = STATE_CHANGES[change];
    return this.db.transaction(async (tx) => {
      const { caller, user } = await this.loadForChange(tx, ref, userId, 'user.write', false);
      if (user.state !== rule.from) {
        throw rule.wrongState(user.state);
      }
      // closing writes (ADR 0010)
      const writes = Promise.all([
        this.users.update(tx, user.id, { state: rule.to }),
        this.events.append(tx, aggregateOf(user), [{ type: rule.event }], caller.userId),
      ]);
      return closing(writes.then(([, details]) => details));
    });
  }

  async delete(ref: CallerRef, userId: string): Promise<ChangeDetails> {
    return this.db.transaction(async (tx) => {
      const { caller, user } = await this.loadForChange(tx, ref, userId, 'user.delete', true);
      // the username is freed for a new user, as in ZITADEL; the events keep the old one
      const writes = Promise.all([
        this.users.update(tx, user.id, {
          state: UserState.DELETED,
          username: `deleted:${this.ids.next()}`,
          phone: null,
          phoneVerified: false,
        }),
        this.tokens.revokeAll(tx, user.id),
        this.orgs.revokeAll(tx, user.id),
        this.phones.forgetUser(tx, user.id),
        this.events.append(tx, aggregateOf(user), [{ type: 'user.removed' }], caller.userId),
      ]);
      return closing(writes.then(([, , , , details]) => details));
    });
  }

  async addPersonalAccessToken(ref: CallerRef, userId: string, expirationDate?: string) {
    const expiresAt = expirationDate ? new Date(expirationDate) : NO_EXPIRY;
    return this.db.transaction(async (tx) => {
      const { caller, user } = await this.loadForChange(tx, ref, userId, 'user.write', false);
      if (user.type !== 'machine') throw Errors.userNotMachine();
      if (expiresAt.getTime() <= this.clock.now().getTime()) throw Errors.patExpirationInPast();
      const created = await this.issueToken(tx, caller.userId, user, expiresAt);
      return { creationDate: created.details.changeDate, tokenId: created.tokenId, token: created.token };
    });
  }

  /** Used by first start, which has no caller yet: the machine user acts for itself. */
  async issueToken(tx: Tx, creator: string, user: UserEntity, expiresAt: Date) {
    const token = newTokenSecret();
    const tokenId = this.ids.next();
    const now = this.clock.now();
    await this.tokens.insert(tx, {
      id: tokenId,
      userId: user.id,
      tokenHash: hashToken(token),
      expiresAt,
      createdAt: now,
    });
    const details = await this.events.append(
      tx,
      aggregateOf(user),
      [{ type: 'user.personal.access.token.added', payload: { tokenId, expiration: expiresAt.toISOString() } }],
      creator,
      now,
    );
    return { token, tokenId, details };
  }

  /** Creates a human user in `org` inside the caller's transaction; sending happens after commit. */
  async createHuman(
    tx: Tx,
    caller: Caller,
    org: OrganizationEntity,
    input: NewHuman,
    origin?: RequestOrigin,
  ): Promise<CreatedUser> {
    if (input.email.returnCode || input.email.sendCode) {
      throw Errors.unimplemented('E-mail verification codes (email.sendCode / email.returnCode)');
    }
    assertMayChooseId(caller, input.userId);
    const now = this.clock.now();
    const user = newUserRecord(org, 'human', input.userId ?? this.ids.next(), input.username ?? input.email.email, now);
    Object.assign(user, {
      givenName: input.profile.givenName,
      familyName: input.profile.familyName,
      nickName: input.profile.nickName ?? null,
      displayName: input.profile.displayName ?? defaultDisplayName(input.profile),
      preferredLanguage: input.profile.preferredLanguage ?? null,
      gender: Math.max(0, GENDERS.indexOf(input.profile.gender ?? 'GENDER_UNSPECIFIED')),
      email: input.email.email,
      emailVerified: input.email.isVerified === true,
    });
    const verification = verificationOf(input.phone ?? {});
    const phone = await this.phones.forNewUser(tx, { user, phone: input.phone?.phone, verification, now, origin });
    user.phone = phone.phone;
    user.phoneVerified = phone.phoneVerified;
    await this.users.insert(tx, user, Errors.userAlreadyExists);
    const added: NewEvent = {
      type: 'user.human.added',
      payload: { username: user.username, email: user.email, emailVerified: user.emailVerified },
    };
    const context = { correlationId: origin?.requestId, phone: phone.phone };
    const details = await this.events.append(
      tx,
      aggregateOf(user),
      [added, ...phone.events],
      caller.userId,
      now,
      context,
    );
    return { user, details, phoneCode: phone.code, afterCommit: phone.afterCommit };
  }

  async createMachine(
    tx: Tx,
    caller: Caller,
    org: OrganizationEntity,
    { userId, username, name, description }: NewMachine,
  ): Promise<CreatedUser> {
    assertMayChooseId(caller, userId);
    const now = this.clock.now();
    const user = newUserRecord(org, 'machine', userId ?? this.ids.next(), username ?? name, now);
    user.machineName = name;
    user.machineDescription = description ?? null;
    await this.users.insert(tx, user, Errors.userAlreadyExists);
    const details = await this.events.append(
      tx,
      aggregateOf(user),
      [{ type: 'user.machine.added', payload: { username: user.username, name } }],
      caller.userId,
      now,
    );
    return { user, details };
  }

  /**
   * Resolves the caller and the target organization (default: the caller's; a named one is looked
   * up together with the caller), checks user.write on it (another organization the caller may
   * not read is answered as one that does not exist), runs `work`.
   */
  private async inOrgTransaction(
    ref: CallerRef,
    target: OrganizationRefDto | undefined,
    work: (tx: Tx, org: OrganizationEntity, caller: Caller) => Promise<CreatedUser>,
  ) {
    return this.db.transaction(async (tx) => {
      const who = ref.within(tx);
      const named = target?.orgDomain
        ? this.orgs.findByDomain(target.orgDomain, tx)
        : target?.orgId
          ? this.orgs.findById(target.orgId, tx)
          : undefined;
      const [caller, found] = await Promise.all([who, named]);
      const org = named ? found : await this.orgs.findById(caller.orgId, tx);
      if (!org) throw Errors.orgNotFound();
      // the caller's own organization is no secret to it
      const notFound = org.id === caller.orgId ? undefined : Errors.orgNotFound;
      assertAllowed(caller, 'user.write', { id: '', orgId: org.id }, false, notFound);
      return work(tx, org, caller);
    });
  }

  /**
   * The caller, the user to change (row-locked on PostgreSQL) and the user's roles, issued
   * together; then the checks: a user the caller may not read is not found, one it may not change
   * is refused, and so is one holding a role the caller does not (its token, its state or its
   * removal would hand the caller more than it holds).
   */
  private async loadForChange(
    tx: Tx,
    ref: CallerRef,
    userId: string,
    permission: 'user.write' | 'user.delete',
    selfAllowed: boolean,
  ) {
    const [caller, user, grants] = await Promise.all([
      ref.within(tx),
      this.users.findForUpdate(tx, userId),
      this.orgs.grantsOf(tx, userId),
    ]);
    if (!user) throw Errors.userNotFound();
    assertAllowed(caller, permission, user, selfAllowed, Errors.userNotFound);
    assertHoldsAllOf(caller, grants);
    return { caller, user };
  }
}
