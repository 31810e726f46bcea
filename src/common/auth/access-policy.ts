import type { AppError } from '../errors/app-error';
import { Errors } from '../errors/errors';
import { Caller, Grant, hasPermission, holdsAllOf, Permission } from './caller';

export interface Target {
  id: string;
  orgId: string;
}

/**
 * Contract §7: a caller may act on itself where `selfAllowed`; otherwise it needs `permission`
 * on the target's organization (or instance-wide). Throws PERMISSION_DENIED; with `notFound`, a
 * caller that may not even read the target's organization gets the error an unknown target gets,
 * so that it cannot tell the users of other tenants from ids that do not exist.
 */
export function assertAllowed(
  caller: Caller,
  permission: Permission,
  target: Target,
  selfAllowed: boolean,
  notFound?: () => AppError,
): void {
  if (selfAllowed && caller.userId === target.id) return;
  if (hasPermission(caller, permission, target.orgId)) return;
  if (notFound && caller.userId !== target.id && !hasPermission(caller, 'user.read', target.orgId)) throw notFound();
  throw Errors.permissionDenied();
}

/** Refuses (PERMISSION_DENIED) to act for a user that holds a grant the caller does not. */
export function assertHoldsAllOf(caller: Caller, targetGrants: readonly Grant[]): void {
  if (!holdsAllOf(caller, targetGrants)) throw Errors.permissionDenied();
}
