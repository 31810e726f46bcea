import { Errors } from '../errors/errors';
import { Caller, hasPermission, Permission } from './caller';

export interface Target {
  id: string;
  orgId: string;
}

/**
 * Contract §7: a caller may act on itself where `selfAllowed`; otherwise it needs `permission`
 * on the target's organization (or instance-wide). Throws PERMISSION_DENIED.
 */
export function assertAllowed(caller: Caller, permission: Permission, target: Target, selfAllowed: boolean): void {
  if (selfAllowed && caller.userId === target.id) return;
  if (!hasPermission(caller, permission, target.orgId)) throw Errors.permissionDenied();
}
