import { AppError } from '../../common/errors/app-error';
import { GrpcStatus } from '../../common/errors/grpc-status';
import { PhoneErrors } from '../phone.errors';
import {
  answerOf,
  answerText,
  canonicalJson,
  checkedKey,
  fingerprintOf,
  keptError,
  scopeOf,
} from './idempotency-rules';

describe('idempotency rules', () => {
  describe(checkedKey.name, () => {
    it('takes 1 to 255 printable ASCII characters, spaces included', () => {
      for (const key of ['a', 'k'.repeat(255), '3f1c2a9e-5b8d-4c1e-9f0a-7d6b5c4e3a21', 'order 42 / retry']) {
        expect(checkedKey(key)).toBe(key);
      }
    });

    it.each([
      ['', 'must not be empty'],
      ['k'.repeat(256), 'must be at most 255 characters'],
      ['a\tb', 'must be printable ASCII characters'],
      ['clé', 'must be printable ASCII characters'],
      ['a\u0000b', 'must be printable ASCII characters'],
    ])('refuses %j: %s', (key, why) => {
      expect(() => checkedKey(key)).toThrow(
        expect.objectContaining({
          code: GrpcStatus.INVALID_ARGUMENT,
          id: 'IDEM-k3yfmt',
          text: `Idempotency-Key is invalid: ${why}`,
        }),
      );
    });
  });

  describe(scopeOf.name, () => {
    it('differs by caller, by method and by key', () => {
      const base = scopeOf('1', 'SetPhone', 'k');
      expect(
        new Set([
          base,
          scopeOf('2', 'SetPhone', 'k'),
          scopeOf('1', 'ResendPhoneCode', 'k'),
          scopeOf('1', 'SetPhone', 'l'),
        ]).size,
      ).toBe(4);
      expect(scopeOf('1', 'SetPhone', 'k')).toBe(base);
      expect(base).toMatch(/^[0-9a-f]{64}$/);
    });

    it('cannot be forged by moving a separator between the parts', () => {
      expect(scopeOf('1', 'SetPhone\n2', 'k')).not.toBe(scopeOf('1\nSetPhone', '2', 'k'));
    });
  });

  describe(fingerprintOf.name, () => {
    it('ignores the order of object keys and properties left undefined', () => {
      const a = { userId: '1', phone: '+41791234567', verification: { kind: 'send' }, nick: undefined };
      const b = { verification: { kind: 'send' }, phone: '+41791234567', userId: '1' };
      expect(fingerprintOf(a)).toBe(fingerprintOf(b));
    });

    it('differs when a value, a nested value or an array order differs', () => {
      const base = fingerprintOf({ userId: '1', phone: '+41791234567', verification: { kind: 'send' }, tags: [1, 2] });
      const others = [
        { userId: '1', phone: '+41791234568', verification: { kind: 'send' }, tags: [1, 2] },
        { userId: '1', phone: '+41791234567', verification: { kind: 'return' }, tags: [1, 2] },
        { userId: '1', phone: '+41791234567', verification: { kind: 'send' }, tags: [2, 1] },
        { userId: '1', phone: '+41791234567', verification: { kind: 'send' }, tags: [1, 2], extra: null },
      ];
      for (const other of others) expect(fingerprintOf(other)).not.toBe(base);
    });

    it('reads a class instance (a request DTO) by its properties', () => {
      class Dto {
        constructor(
          readonly userId: string,
          readonly phone: string,
        ) {}
      }
      expect(canonicalJson(new Dto('1', '+41'))).toBe('{"phone":"+41","userId":"1"}');
    });
  });

  describe(keptError.name, () => {
    it.each([
      [GrpcStatus.INVALID_ARGUMENT, true],
      [GrpcStatus.NOT_FOUND, true],
      [GrpcStatus.ALREADY_EXISTS, true],
      [GrpcStatus.PERMISSION_DENIED, true],
      [GrpcStatus.FAILED_PRECONDITION, true],
      [GrpcStatus.UNAVAILABLE, false],
      [GrpcStatus.DEADLINE_EXCEEDED, false],
      [GrpcStatus.RESOURCE_EXHAUSTED, false],
      [GrpcStatus.ABORTED, false],
      [GrpcStatus.UNAUTHENTICATED, false],
      [GrpcStatus.INTERNAL, false],
    ])('code %i is kept: %s', (code, kept) => {
      expect(keptError(new AppError(code, 'X-1', 'x'))).toBe(kept);
    });

    it.each([
      ['CAPTCHA_REQUIRED', PhoneErrors.captchaRequired()],
      ['CAPTCHA_FAILED', PhoneErrors.captchaFailed('invalid', 'recaptcha')],
      ['SEND_HOOK_DENIED', PhoneErrors.sendHookDenied('fraud')],
    ])('never keeps a pre-send refusal (%s): a new CAPTCHA token under the same key is judged again', (_, error) => {
      expect(keptError(error)).toBe(false);
    });

    it('never keeps an error that is not an answer of ours', () => {
      expect(keptError(new Error('boom'))).toBe(false);
    });
  });

  describe('stored answers', () => {
    it('give back a result with its dates', () => {
      const value = {
        details: { sequence: '3', changeDate: new Date('2026-03-01T12:00:00.123Z'), resourceOwner: '7' },
        verificationCode: '123456',
      };
      const back = answerOf<typeof value>(answerText({ ok: true, value }));
      expect(back).toEqual({ ok: true, value });
      expect(back.ok && back.value.details.changeDate).toBeInstanceOf(Date);
    });

    it('give back an error with its code, id, text and details', () => {
      const error = new AppError(GrpcStatus.FAILED_PRECONDITION, 'COMMAND-Uch5e', 'Phone not changed', {
        info: { reason: 'R', metadata: { a: 'b' } },
      });
      const back = answerOf(answerText({ ok: false, error }));
      expect(back.ok).toBe(false);
      if (back.ok) return;
      expect(back.error).toBeInstanceOf(AppError);
      expect([back.error.code, back.error.id, back.error.text, back.error.extras]).toEqual([
        error.code,
        error.id,
        error.text,
        error.extras,
      ]);
    });
  });
});
