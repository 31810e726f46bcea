import fc from 'fast-check';
import { headerValue, hostileString, idArb } from './fuzz';

/** The REST routes of the contract with a valid body each (the fuzzers' starting points). */
export interface RestRoute {
  method: string;
  verb: 'GET' | 'POST' | 'DELETE';
  path: (id: string, orgId: string) => string;
  body: (id: string, orgId: string) => Record<string, unknown> | undefined;
}

const user = (suffix: string) => (id: string) => `/v2/users/${id}${suffix}`;

export const REST_ROUTES: RestRoute[] = [
  { method: 'SetPhone', verb: 'POST', path: user('/phone'), body: () => ({ phone: '+41791234567', returnCode: {} }) },
  { method: 'RemovePhone', verb: 'DELETE', path: user('/phone'), body: () => ({}) },
  { method: 'ResendPhoneCode', verb: 'POST', path: user('/phone/resend'), body: () => ({ returnCode: {} }) },
  { method: 'VerifyPhone', verb: 'POST', path: user('/phone/verify'), body: () => ({ verificationCode: '123456' }) },
  {
    method: 'AddHumanUser',
    verb: 'POST',
    path: () => '/v2/users/human',
    body: (_id, orgId) => ({
      organization: { orgId },
      username: 'fuzz',
      profile: { givenName: 'Minnie', familyName: 'Mouse', preferredLanguage: 'de', displayName: 'M' },
      email: { email: 'minnie@example.com', isVerified: true },
      phone: { phone: '+41791234567', returnCode: {} },
    }),
  },
  {
    method: 'CreateUser',
    verb: 'POST',
    path: () => '/v2/users/new',
    body: (_id, orgId) => ({ organizationId: orgId, username: 'robot', machine: { name: 'robot', description: 'd' } }),
  },
  {
    method: 'CreateUser (human)',
    verb: 'POST',
    path: () => '/v2/users/new',
    body: (_id, orgId) => ({
      organizationId: orgId,
      human: { profile: { givenName: 'A', familyName: 'B' }, email: { email: 'a@example.com' } },
    }),
  },
  { method: 'GetUserByID', verb: 'GET', path: user(''), body: () => undefined },
  { method: 'DeactivateUser', verb: 'POST', path: user('/deactivate'), body: () => ({}) },
  { method: 'ReactivateUser', verb: 'POST', path: user('/reactivate'), body: () => ({}) },
  { method: 'LockUser', verb: 'POST', path: user('/lock'), body: () => ({}) },
  { method: 'UnlockUser', verb: 'POST', path: user('/unlock'), body: () => ({}) },
  { method: 'DeleteUser', verb: 'DELETE', path: user(''), body: () => ({}) },
  {
    method: 'AddPersonalAccessToken',
    verb: 'POST',
    path: user('/pats'),
    body: () => ({ expirationDate: '2099-01-01T00:00:00Z' }),
  },
  {
    method: 'AddOrganization',
    verb: 'POST',
    path: () => '/v2/organizations',
    body: () => ({ name: 'Fuzz Org', admins: [{ userId: '1', roles: ['ORG_OWNER'] }] }),
  },
];

/** Every field name of the valid bodies, and their snake_case forms, for generated keys. */
export const FIELD_NAMES = [
  ...new Set(
    REST_ROUTES.flatMap((r) => names(r.body('1', '1'))).flatMap((n) => [
      n,
      n.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`),
    ]),
  ),
  'userId',
  'user_id',
  'sendCode',
  'urlTemplate',
  'isVerified',
  'expirationDate',
  'metadata',
];

function names(value: unknown): string[] {
  if (!value || typeof value !== 'object') return [];
  if (Array.isArray(value)) return value.flatMap(names);
  return Object.entries(value).flatMap(([k, v]) => [k, ...names(v)]);
}

/** A path segment: percent-encoded as UTF-8, a lone surrogate as the bytes WTF-8 gives it. */
export function encodeSegment(text: string): string {
  let out = '';
  for (const char of text) {
    const cp = char.codePointAt(0)!;
    if (/^[A-Za-z0-9\-._~]$/.test(char)) out += char;
    else if (cp >= 0xd800 && cp <= 0xdfff) {
      out += [0xe0 | (cp >> 12), 0x80 | ((cp >> 6) & 0x3f), 0x80 | (cp & 0x3f)]
        .map((b) => `%${b.toString(16).toUpperCase()}`)
        .join('');
    } else {
      out += [...Buffer.from(char, 'utf8')].map((b) => `%${b.toString(16).toUpperCase().padStart(2, '0')}`).join('');
    }
  }
  return out;
}

/** A path id: an encoded one, or text a client writes into a URL as it is. */
export function pathIdArb(known: string[]): fc.Arbitrary<string> {
  return fc.oneof(
    { weight: 6, arbitrary: idArb(known).map(encodeSegment) },
    {
      weight: 1,
      arbitrary: fc.constantFrom(
        '%00',
        '%ZZ',
        '%',
        '%c0%80',
        '%ed%a0%80',
        '%ff',
        '..',
        '.',
        '%2e%2e',
        '%2F',
        '1%2F2',
        '1;x',
      ),
    },
  );
}

/** An Authorization header: the admin's, a caller without roles, none, or junk. */
export function authArb(admin: string, roleless: string): fc.Arbitrary<string | undefined> {
  return fc.oneof(
    { weight: 6, arbitrary: fc.constant(`Bearer ${admin}`) },
    { weight: 1, arbitrary: fc.constant(`Bearer ${roleless}`) },
    { weight: 1, arbitrary: fc.constant(undefined) },
    { weight: 1, arbitrary: headerValue.map((v) => `Bearer ${v}`) },
    { weight: 1, arbitrary: fc.constantFrom('Bearer', 'Basic YTpi', `bearer  ${admin}`, `Bearer ${admin}x`) },
  );
}

export const contentTypeArb = fc.oneof(
  { weight: 8, arbitrary: fc.constant('application/json') },
  {
    weight: 2,
    arbitrary: fc.constantFrom(
      'application/json; charset=utf-8',
      'application/json; charset=latin1',
      'application/json; charset=utf-16',
      'text/plain',
      'application/x-www-form-urlencoded',
      'multipart/form-data; boundary=x',
      'application/grpc',
      'application/*',
      '',
    ),
  },
  { weight: 1, arbitrary: hostileString.filter((s) => /^[\t\x20-\x7e]*$/.test(s)) },
);
