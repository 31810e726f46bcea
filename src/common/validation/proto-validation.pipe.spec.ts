import { CallerRef } from '../auth/caller-ref';
import { ProtoValidationPipe } from './proto-validation.pipe';

describe(ProtoValidationPipe.name, () => {
  const sut = new ProtoValidationPipe();

  // a compiled controller declares `caller: CallerRef` (a type-only import) as Function
  it.each([Function, CallerRef, Object])(
    'passes the caller of @CurrentCaller() through (declared as %p)',
    (metatype) => {
      const caller = CallerRef.of({ userId: '1', orgId: '2', grants: [] });
      expect(sut.transform(caller, { type: 'custom', metatype })).toBe(caller);
    },
  );

  it('refuses a parameter type that names no protobuf message', () => {
    class NotAMessage {}
    expect(() => sut.transform({}, { type: 'custom', metatype: NotAMessage })).toThrow(/no protobuf message/);
  });
});
