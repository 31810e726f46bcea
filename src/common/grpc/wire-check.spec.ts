import { requestTypeOf } from './proto-root';
import { wireCheck } from './wire-check';

describe('wireCheck', () => {
  const setPhone = requestTypeOf('zitadel.user.v2.UserService', 'SetPhone')!;
  const sut = wireCheck(setPhone)!;
  const valid = setPhone.encode(setPhone.fromObject({ userId: '1', phone: '+41791234567', returnCode: {} })).finish();

  it('passes what protobufjs encodes', () => {
    expect(sut(valid)).toBe(true);
  });

  it('passes unknown fields of any wire type', () => {
    expect(sut(Buffer.concat([valid, Buffer.from([0xf8, 0x07, 0x01, 0xfd, 0x07, 1, 2, 3, 4])]))).toBe(true);
  });

  it('refuses a known string field with another wire type', () => {
    expect(sut(Buffer.from([0x0d, 1, 2, 3, 4]))).toBe(false);
    expect(sut(Buffer.from([0x10, 0x01]))).toBe(false);
  });

  it('refuses a string that is no UTF-8, also in a nested message', () => {
    expect(sut(Buffer.from([0x0a, 0x02, 0xc3, 0x28]))).toBe(false);
    const add = requestTypeOf('zitadel.user.v2.UserService', 'AddHumanUser')!;
    const profile = add.encode(add.fromObject({ profile: { givenName: 'ab' } })).finish();
    const broken = Buffer.from(profile);
    broken[broken.length - 1] = 0xff;
    expect(wireCheck(add)!(profile)).toBe(true);
    expect(wireCheck(add)!(broken)).toBe(false);
  });

  it('refuses bytes cut short instead of throwing', () => {
    expect(sut(Buffer.from([0x0a, 0x05, 0x41]))).toBe(false);
  });
});
