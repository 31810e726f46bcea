import { Root, Type } from 'protobufjs';
import { AddPersonalAccessTokenDto } from '../../users/dto/user-requests.dto';
import { AddOrganizationDto } from '../../users/dto/add-organization.dto';
import { CreateUserDto } from '../../users/dto/create-user.dto';
import { SetPhoneRequestDto } from '../../phone/dto/phone-requests.dto';
import { readProtoJson } from './proto-json-input';
import { protoMessageOf } from './proto-message';

const fieldsOf = (violations: Array<{ field: string }>) => violations.map((v) => v.field).sort();

/** Every scalar kind of the mapping in one message (no served request has them all). */
const SCALARS = Root.fromJSON({
  nested: {
    t: {
      nested: {
        Color: { values: { COLOR_UNSPECIFIED: 0, RED: 1 } },
        All: {
          fields: {
            s: { type: 'string', id: 1 },
            b: { type: 'bool', id: 2 },
            i32: { type: 'int32', id: 3 },
            u32: { type: 'uint32', id: 4 },
            i64: { type: 'int64', id: 5 },
            u64: { type: 'uint64', id: 6 },
            d: { type: 'double', id: 7 },
            raw: { type: 'bytes', id: 8 },
            color: { type: 'Color', id: 9 },
            labels: { keyType: 'string', type: 'int32', id: 10 } as { type: string; id: number },
            tags: { rule: 'repeated', type: 'string', id: 11 },
            long_name_here: { type: 'string', id: 12 },
          },
        },
      },
    },
  },
}).lookupType('t.All');

describe(readProtoJson.name, () => {
  it('reads each scalar kind in its JSON forms, names in lowerCamelCase', () => {
    const { value, violations } = readProtoJson(SCALARS, {
      s: 'x',
      b: false,
      i32: '-7',
      u32: 7,
      i64: 9007199254740992,
      u64: '18446744073709551615',
      d: 'Infinity',
      raw: 'AP8=',
      color: 1,
      labels: { a: 1, b: '2' },
      tags: ['x', 'y'],
      long_name_here: 'snake',
    });
    expect(violations).toEqual([]);
    expect(value).toEqual({
      s: 'x',
      b: false,
      i32: -7,
      u32: 7,
      i64: '9007199254740992',
      u64: '18446744073709551615',
      d: Infinity,
      raw: 'AP8=',
      color: 'RED',
      labels: { a: 1, b: 2 },
      tags: ['x', 'y'],
      longNameHere: 'snake',
    });
  });

  it('names every field of the wrong JSON type and leaves it out', () => {
    const { value, violations } = readProtoJson(SCALARS, {
      s: 1,
      b: 'true',
      i32: 1.5,
      u32: -1,
      i64: '1e3',
      d: true,
      raw: 'not base64',
      color: true,
      labels: [1],
      tags: 'x',
    });
    expect(fieldsOf(violations)).toEqual(['b', 'color', 'd', 'i32', 'i64', 'labels', 'raw', 's', 'tags', 'u32']);
    expect(value).toEqual({});
  });

  it('reads null as unset, refuses null inside a list or map (leaving it out whole), and drops unknown fields', () => {
    const { value, violations } = readProtoJson(SCALARS, {
      s: null,
      tags: ['x', null],
      labels: { a: null, b: 1 },
      unknown: { deep: [1] },
      i32: 1,
    });
    expect(fieldsOf(violations)).toEqual(['labels.a', 'tags.1']);
    expect(value).toEqual({ i32: 1 });
  });

  it('holds every string to the text rule, at any depth, in lists and map keys, by field path', () => {
    const { value, violations } = readProtoJson(protoMessageOf(AddOrganizationDto), {
      name: 'a\u0000b',
      organization_id: 'fine',
      admins: [
        { userId: 'fine' },
        { human: { profile: { givenName: '\ud800', familyName: 'ok 😀' }, email: { email: 'x\udc00@example.com' } } },
        { roles: ['ORG_OWNER', '\u0000'] },
      ],
    });
    expect(violations).toEqual([
      { field: 'name', description: 'name must not contain the NUL character (U+0000)' },
      {
        field: 'admins.1.human.profile.givenName',
        description: 'givenName must be valid Unicode text (it holds an unpaired surrogate)',
      },
      {
        field: 'admins.1.human.email.email',
        description: 'email must be valid Unicode text (it holds an unpaired surrogate)',
      },
      { field: 'admins.2.roles.1', description: 'roles must not contain the NUL character (U+0000)' },
    ]);
    // what was refused is left out; list elements keep their places
    expect(value).toEqual({
      organizationId: 'fine',
      admins: [{ userId: 'fine' }, { human: { profile: { familyName: 'ok 😀' }, email: {} } }, {}],
    });
    expect(fieldsOf(readProtoJson(SCALARS, { labels: { 'a\u0000': 1 } }).violations)).toEqual(['labels.a\u0000']);
  });

  it('prefers the camelCase spelling when both are sent, in any order', () => {
    for (const input of [
      { long_name_here: 'snake', longNameHere: 'camel' },
      { longNameHere: 'camel', long_name_here: 'snake' },
    ]) {
      expect(readProtoJson(SCALARS, input).value).toEqual({ longNameHere: 'camel' });
    }
  });

  it('keeps a map key "__proto__" as data, never as a prototype', () => {
    const { value } = readProtoJson(SCALARS, JSON.parse('{"labels":{"__proto__":1}}') as object);
    const labels = value.labels as Record<string, unknown>;
    expect(Object.getPrototypeOf(labels)).toBe(Object.prototype);
    expect(Object.keys(labels)).toEqual(['__proto__']);
  });

  it('reads an empty message of a oneof as itself, whatever unknown fields it holds', () => {
    const raw = JSON.parse('{"phone":"+41","returnCode":{"constructor":{"prototype":{}},"__proto__":{"x":1}}}');
    const { value, violations } = readProtoJson(protoMessageOf(SetPhoneRequestDto), raw as object);
    expect(violations).toEqual([]);
    expect(value).toEqual({ phone: '+41', returnCode: {} });
    expect(Object.getPrototypeOf(value.returnCode)).toBe(Object.prototype);
  });

  it('refuses a message that is not an object, and a list that is not a list, by path', () => {
    const { violations } = readProtoJson(protoMessageOf(AddOrganizationDto), {
      name: 'ACME',
      admins: [{ human: [] }, { human: { profile: 'x', metadata: [{ key: 'k', value: 1 }] } }, 'x'],
    });
    expect(fieldsOf(violations)).toEqual([
      'admins.0.human',
      'admins.1.human.metadata.0.value',
      'admins.1.human.profile',
      'admins.2',
    ]);
  });

  it('reads a oneof member given as null as unset', () => {
    const { value } = readProtoJson(protoMessageOf(CreateUserDto), { organizationId: 'o', machine: null });
    expect(value).toEqual({ organizationId: 'o' });
  });

  it.each([
    ['2030-01-01T01:00:00+01:00', '2030-01-01T00:00:00.000Z'],
    ['2030-01-01T00:00:00.123456789Z', '2030-01-01T00:00:00.123Z'],
  ])('reads the Timestamp %s as the instant it names', (text, iso) => {
    const { value } = readProtoJson(protoMessageOf(AddPersonalAccessTokenDto), { expirationDate: text });
    expect(value.expirationDate).toBe(iso);
  });

  it.each(['2099-01-01 00:00:00', 4102444800, { seconds: 1 }])('refuses the Timestamp %j', (expirationDate) => {
    const { violations } = readProtoJson(protoMessageOf(AddPersonalAccessTokenDto), { expirationDate });
    expect(fieldsOf(violations)).toEqual(['expirationDate']);
  });

  it('takes gRPC input as proto-loader decodes it (bytes as a Buffer, the oneof name beside it)', () => {
    const { value, violations } = readProtoJson(protoMessageOf(CreateUserDto), {
      organizationId: 'o',
      machine: { name: 'r', accessTokenType: 'ACCESS_TOKEN_TYPE_JWT' },
      metadata: [{ key: 'k', value: Buffer.from('v') }],
      userType: 'machine',
    });
    expect(violations).toEqual([]);
    expect(value).toEqual({
      organizationId: 'o',
      machine: { name: 'r', accessTokenType: 'ACCESS_TOKEN_TYPE_JWT' },
      metadata: [{ key: 'k', value: Buffer.from('v') }],
    });
  });

  it('fails loudly for a well-known type it has no reading for', () => {
    const root = Root.fromJSON({
      nested: {
        google: { nested: { protobuf: { nested: { Duration: { fields: { seconds: { type: 'int64', id: 1 } } } } } } },
        t: { nested: { D: { fields: { d: { type: 'google.protobuf.Duration', id: 1 } } } } },
      },
    });
    root.resolveAll();
    expect(() => readProtoJson(root.lookupType('t.D') as Type, { d: '1s' })).toThrow(/Duration/);
  });
});
