import { AppError } from '../errors/app-error';
import { Errors } from '../errors/errors';
import { assertAllowed } from './access-policy';
import { Caller, hasPermission, holdsAllOf, INSTANCE, Permission, Role, Scope } from './caller';

const caller = (grants: Array<[Scope, Role]>): Caller => ({
  userId: 'me',
  orgId: 'org-a',
  grants: grants.map(([scope, role]) => ({ scope, role })),
});

describe('hasPermission', () => {
  it.each<[Role, Permission[]]>([
    ['IAM_OWNER', ['user.read', 'user.write', 'user.delete', 'org.create', 'user.id.choose']],
    ['ORG_OWNER', ['user.read', 'user.write', 'user.delete']],
    ['ORG_USER_MANAGER', ['user.read', 'user.write', 'user.delete']],
    ['ORG_OWNER_VIEWER', ['user.read']],
  ])('%s on its organization grants exactly %j', (role, granted) => {
    const all: Permission[] = ['user.read', 'user.write', 'user.delete', 'org.create', 'user.id.choose'];
    const scope = role === 'IAM_OWNER' ? INSTANCE : 'org-a';
    expect(all.filter((p) => hasPermission(caller([[scope, role]]), p, 'org-a'))).toEqual(granted);
  });

  it('limits organization roles to their organization', () => {
    const manager = caller([['org-a', 'ORG_USER_MANAGER']]);
    expect(hasPermission(manager, 'user.write', 'org-a')).toBe(true);
    expect(hasPermission(manager, 'user.write', 'org-b')).toBe(false);
    expect(hasPermission(manager, 'user.write')).toBe(false);
  });

  it('applies instance-wide roles to every organization', () => {
    const owner = caller([[INSTANCE, 'IAM_OWNER']]);
    expect(hasPermission(owner, 'user.delete', 'any-org')).toBe(true);
    expect(hasPermission(owner, 'org.create')).toBe(true);
  });

  it('treats an organization whose id is "instance" as an organization', () => {
    const admin = caller([['instance', 'ORG_OWNER']]);
    expect(hasPermission(admin, 'user.write', 'instance')).toBe(true);
    expect(hasPermission(admin, 'user.write', 'org-a')).toBe(false);
    expect(hasPermission(admin, 'org.create')).toBe(false);
  });

  it('grants nothing without roles', () => {
    expect(hasPermission(caller([]), 'user.read', 'org-a')).toBe(false);
  });
});

describe('holdsAllOf', () => {
  const manager = caller([['org-b', 'ORG_USER_MANAGER']]);

  it('holds what a user with no roles, or the same roles, holds', () => {
    expect(holdsAllOf(manager, [])).toBe(true);
    expect(holdsAllOf(manager, [{ scope: 'org-b', role: 'ORG_OWNER_VIEWER' }])).toBe(true);
    expect(holdsAllOf(manager, [{ scope: 'org-b', role: 'ORG_OWNER' }])).toBe(true);
  });

  it('does not hold a role on another organization, nor an instance-wide one', () => {
    expect(holdsAllOf(manager, [{ scope: 'org-c', role: 'ORG_OWNER_VIEWER' }])).toBe(false);
    expect(holdsAllOf(manager, [{ scope: INSTANCE, role: 'ORG_OWNER_VIEWER' }])).toBe(false);
  });

  it('does not hold more permissions on the same organization', () => {
    const viewer = caller([['org-b', 'ORG_OWNER_VIEWER']]);
    expect(holdsAllOf(viewer, [{ scope: 'org-b', role: 'ORG_USER_MANAGER' }])).toBe(false);
  });

  it('holds everything instance-wide, but org roles named "instance" hold no instance role', () => {
    const owner = caller([[INSTANCE, 'IAM_OWNER']]);
    expect(
      holdsAllOf(owner, [
        { scope: INSTANCE, role: 'IAM_OWNER' },
        { scope: 'x', role: 'ORG_OWNER' },
      ]),
    ).toBe(true);
    expect(holdsAllOf(caller([['instance', 'ORG_OWNER']]), [{ scope: INSTANCE, role: 'IAM_OWNER' }])).toBe(false);
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

  it('with notFound, answers a caller that cannot read the organization as for an unknown user', () => {
    const notFound = () => Errors.userNotFound();
    const attempt = (grants: Array<[Scope, Role]>, t = target) => {
      try {
        assertAllowed(caller(grants), 'user.write', t, false, notFound);
      } catch (error) {
        return (error as AppError).id;
      }
      return 'allowed';
    };
    expect(attempt([['org-b', 'ORG_OWNER']])).toBe('QUERY-Dfbg2');
    expect(attempt([])).toBe('QUERY-Dfbg2');
    expect(attempt([['org-a', 'ORG_OWNER_VIEWER']])).toBe('AUTH-AWfge');
    expect(attempt([], { id: 'me', orgId: 'org-b' })).toBe('AUTH-AWfge');
    expect(attempt([['org-a', 'ORG_USER_MANAGER']])).toBe('allowed');
  });

  it('passes with the permission on the target organization', () => {
    expect(() => assertAllowed(caller([['org-a', 'ORG_OWNER_VIEWER']]), 'user.read', target, false)).not.toThrow();
    expect(() => assertAllowed(caller([['org-a', 'ORG_OWNER_VIEWER']]), 'user.delete', target, false)).toThrow(
      AppError,
    );
  });
});
