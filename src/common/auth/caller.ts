/** The roles a membership grants (the memberships table stores their names). */
export type Role = 'IAM_OWNER' | 'ORG_OWNER' | 'ORG_USER_MANAGER' | 'ORG_OWNER_VIEWER';
export const ROLES: readonly Role[] = ['IAM_OWNER', 'ORG_OWNER', 'ORG_USER_MANAGER', 'ORG_OWNER_VIEWER'];

export type Permission = 'user.read' | 'user.write' | 'user.delete' | 'org.create' | 'user.id.choose';
const PERMISSIONS: readonly Permission[] = ['user.read', 'user.write', 'user.delete', 'org.create', 'user.id.choose'];

/**
 * The scope of instance-wide roles: a symbol, never a string, so no organization id (which a
 * caller may choose) can ever equal it. Stored as its own column (memberships.instance).
 */
export const INSTANCE: unique symbol = Symbol('instance');
export type Scope = string | typeof INSTANCE;

export interface Grant {
  /** an organization id, or INSTANCE */
  scope: Scope;
  role: Role;
}

/** Who is calling, resolved once per request by the AuthGuard. */
export interface Caller {
  userId: string;
  orgId: string;
  grants: Grant[];
}

const ROLE_PERMISSIONS: Record<Role, readonly Permission[]> = {
  IAM_OWNER: PERMISSIONS,
  ORG_OWNER: ['user.read', 'user.write', 'user.delete'],
  ORG_USER_MANAGER: ['user.read', 'user.write', 'user.delete'],
  ORG_OWNER_VIEWER: ['user.read'],
};

const applies = (grant: Grant, orgId?: string) =>
  grant.scope === INSTANCE || (orgId !== undefined && grant.scope === orgId);

/** True when one of the caller's roles grants `permission` on organization `orgId` (or instance-wide). */
export function hasPermission(caller: Caller, permission: Permission, orgId?: string): boolean {
  return caller.grants.some((grant) => ROLE_PERMISSIONS[grant.role].includes(permission) && applies(grant, orgId));
}

/**
 * True when every permission `grants` give, on every scope, the caller holds there too: acting
 * for a user with such grants (its token, its state) hands the caller nothing it does not have.
 */
export function holdsAllOf(caller: Caller, grants: readonly Grant[]): boolean {
  return grants.every((grant) =>
    ROLE_PERMISSIONS[grant.role].every((permission) =>
      caller.grants.some(
        (own) =>
          ROLE_PERMISSIONS[own.role].includes(permission) &&
          (own.scope === INSTANCE || (grant.scope !== INSTANCE && own.scope === grant.scope)),
      ),
    ),
  );
}
