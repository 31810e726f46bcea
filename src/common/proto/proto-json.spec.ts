import { toProtoJson, toProtoMessage } from './proto-json';

describe('toProtoJson', () => {
  it('writes Timestamps as RFC 3339 and leaves out default values', () => {
    expect(
      toProtoJson({
        details: { sequence: '3', changeDate: new Date('2024-11-22T16:27:04.996Z'), resourceOwner: 'o' },
        verificationCode: undefined,
        phoneCode: null,
        nickName: '',
        isVerified: false,
        attempts: 0,
        loginNames: [],
      }),
    ).toEqual({ details: { sequence: '3', changeDate: '2024-11-22T16:27:04.996Z', resourceOwner: 'o' } });
  });

  it('keeps set messages even when empty, and renders lists element by element', () => {
    expect(
      toProtoJson({
        phone: { phone: '', isVerified: false },
        returnCode: {},
        createdAdmins: [{ userId: '1', phoneCode: undefined }, { userId: '2' }],
        loginNames: ['a@b'],
        isVerified: true,
      }),
    ).toEqual({
      phone: {},
      returnCode: {},
      createdAdmins: [{ userId: '1' }, { userId: '2' }],
      loginNames: ['a@b'],
      isVerified: true,
    });
  });

  it('keeps a uint64 written as a string', () => {
    expect(toProtoJson({ sequence: '1' })).toEqual({ sequence: '1' });
  });
});

describe('toProtoMessage', () => {
  it('turns Timestamps into {seconds, nanos} and drops unset fields and empty strings (a proto3 `optional` string set to "" would be sent as present)', () => {
    expect(
      toProtoMessage({ at: new Date('2024-11-22T16:27:04.996Z'), flag: false, name: '', gone: undefined, list: [] }),
    ).toEqual({ at: { seconds: '1732292824', nanos: 996_000_000 }, flag: false, list: [] });
  });
});
