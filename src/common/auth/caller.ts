/** The roles a membership grants (the memberships table stores their names). */
export type Role = 'IAM_OWNER' | 'ORG_OWNER' | 'ORG_USER_MANAGER' | 'ORG_OWNER_VIEWER';
export const ROLES: readonly Role[] = ['IAM_OWNER', 'ORG_OWNER', 'ORG_USER_MANAGER', 'ORG_OWNER_VIEWER'];

export type Permission = 'user.read' | 'user.write' | 'user.delete' | 'org.create';

/** Who is calling, resolved once per request by the AuthGuard. */
export interface Caller {
  userId: string;
  orgId: string;
  /** role grants: scope is an organization id or 'instance' */
  grants: Array<{ scope: string; role: Role }>;
}

const ROLE_PERMISSIONS: Record<Role, readonly Permission[]> = {
  IAM_OWNER: ['user.read', 'user.write', 'user.delete', 'org.create'],
  ORG_OWNER: ['user.read', 'user.write', 'user.delete'],
  ORG_USER_MANAGER: ['user.read', 'user.write', 'user.delete'],
  ORG_OWNER_VIEWER: ['user.read'],
};

/** True when one of the caller's roles grants `permission` on organization `orgId` (or instance-wide). */
export function hasPermission(caller: Caller, permission: Permission, orgId?: string): boolean {
  return caller.grants.some(
    (grant) =>
      ROLE_PERMISSIONS[grant.role].includes(permission) &&
      (grant.scope === 'instance' || (orgId !== undefined && grant.scope === orgId)),
  );
}
