import { AppError } from '../errors/app-error';
import { assertAllowed } from './access-policy';
import { Caller, hasPermission, Permission, Role } from './caller';

const caller = (grants: Array<[string, Role]>): Caller => ({
  userId: 'me',
  orgId: 'org-a',
  grants: grants.map(([scope, role]) => ({ scope, role })),
});

describe('hasPermission', () => {
  it.each<[Role, Permission[]]>([
    ['IAM_OWNER', ['user.read', 'user.write', 'user.delete', 'org.create']],
    ['ORG_OWNER', ['user.read', 'user.write', 'user.delete']],
    ['ORG_USER_MANAGER', ['user.read', 'user.write', 'user.delete']],
    ['ORG_OWNER_VIEWER', ['user.read']],
  ])('%s on its organization grants exactly %j', (role, granted) => {
    const all: Permission[] = ['user.read', 'user.write', 'user.delete', 'org.create'];
    const scope = role === 'IAM_OWNER' ? 'instance' : 'org-a';
    expect(all.filter((p) => hasPermission(caller([[scope, role]]), p, 'org-a'))).toEqual(granted);
  });

  it('limits organization roles to their organization', () => {
    const manager = caller([['org-a', 'ORG_USER_MANAGER']]);
    expect(hasPermission(manager, 'user.write', 'org-a')).toBe(true);
    expect(hasPermission(manager, 'user.write', 'org-b')).toBe(false);
    expect(hasPermission(manager, 'user.write')).toBe(false);
  });

  it('applies instance-wide roles to every organization', () => {
    const owner = caller([['instance', 'IAM_OWNER']]);
    expect(hasPermission(owner, 'user.delete', 'any-org')).toBe(true);
    expect(hasPermission(owner, 'org.create')).toBe(true);
  });

  it('grants nothing without roles', () => {
    expect(hasPermission(caller([]), 'user.read', 'org-a')).toBe(false);
  });
});

describe('assertAllowed', () => {
  const target = { id: 'someone', orgId: 'org-a' };

  it('lets a caller act on itself where self is allowed, without roles', () => {
    expect(() => assertAllowed(caller([]), 'user.write', { id: 'me', orgId: 'org-a' }, true)).not.toThrow();
  });

  it('does not treat self as enough where self is not allowed', () => {
    expect(() => assertAllowed(caller([]), 'user.write', { id: 'me', orgId: 'org-a' }, false)).toThrow(AppError);
  });

  it('throws PERMISSION_DENIED (AUTH-AWfge) without the permission on the target organization', () => {
    let thrown: unknown;
    try {
      assertAllowed(caller([['org-b', 'ORG_OWNER']]), 'user.read', target, true);
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toBeInstanceOf(AppError);
    expect([(thrown as AppError).code, (thrown as AppError).id]).toEqual([7, 'AUTH-AWfge']);
  });

  it('passes with the permission on the target organization', () => {
    expect(() => assertAllowed(caller([['org-a', 'ORG_OWNER_VIEWER']]), 'user.read', target, false)).not.toThrow();
    expect(() => assertAllowed(caller([['org-a', 'ORG_OWNER_VIEWER']]), 'user.delete', target, false)).toThrow(
      AppError,
    );
  });
});
