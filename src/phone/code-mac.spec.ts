import fc from 'fast-check';
import { codeMac, MAC_KEYS, unitConfig } from '../../test/support/fakes/config';
import { CodeMac } from './code-mac';

const USER = '300000000000000001';
const PHONE = '+41791234567';
const CODE = '482913';

describe(CodeMac.name, () => {
  let sut: CodeMac;

  beforeEach(() => {
    sut = codeMac(unitConfig({ CODE_HMAC_KEY: MAC_KEYS }));
  });

  it('signs new codes with the first configured key', () => {
    expect(sut.currentKeyId).toBe('k1');
  });

  it('gives a hex HMAC-SHA-256 (64 characters), never the code itself', () => {
    const mac = sut.sign(USER, PHONE, CODE);
    expect(mac).toMatch(/^[0-9a-f]{64}$/);
    expect(mac).not.toContain(CODE);
  });

  it('gives the same MAC for the same user, number, code and key', () => {
    expect(sut.sign(USER, PHONE, CODE)).toBe(sut.sign(USER, PHONE, CODE));
  });

  it('matches the code it signed', () => {
    expect(sut.matches(sut.sign(USER, PHONE, CODE), 'k1', USER, PHONE, CODE)).toBe(true);
  });

  it('is bound to the user: the code of one user does not verify for another', () => {
    fc.assert(
      fc.property(fc.string({ minLength: 1 }), (other) => {
        fc.pre(other !== USER);
        return !sut.matches(sut.sign(USER, PHONE, CODE), 'k1', other, PHONE, CODE);
      }),
    );
  });

  it('is bound to the number: a code sent to one number does not verify another', () => {
    fc.assert(
      fc.property(fc.stringMatching(/^\+[1-9]\d{6,14}$/), (other) => {
        fc.pre(other !== PHONE);
        return !sut.matches(sut.sign(USER, PHONE, CODE), 'k1', USER, other, CODE);
      }),
    );
  });

  it('is bound to the code: any other code does not match', () => {
    fc.assert(
      fc.property(fc.stringMatching(/^\d{6}$/), (other) => {
        fc.pre(other !== CODE);
        return !sut.matches(sut.sign(USER, PHONE, CODE), 'k1', USER, PHONE, other);
      }),
    );
  });

  it('is bound to the key id: a MAC made under one key does not verify under another', () => {
    const underOld = sut.sign(USER, PHONE, CODE, 'k0');
    expect(sut.matches(underOld, 'k1', USER, PHONE, CODE)).toBe(false);
  });

  it('still verifies a code signed under an older key named by its id', () => {
    expect(sut.matches(sut.sign(USER, PHONE, CODE, 'k0'), 'k0', USER, PHONE, CODE)).toBe(true);
  });

  it('verifies nothing under a key that is no longer configured', () => {
    const rotatedOut = codeMac(unitConfig({ CODE_HMAC_KEY: `k2:${Buffer.alloc(32, 3).toString('base64')}` }));
    const mac = rotatedOut.sign(USER, PHONE, CODE);
    expect(sut.matches(mac, 'k2', USER, PHONE, CODE)).toBe(false);
  });

  it('signs nothing under an unknown key id', () => {
    expect(sut.sign(USER, PHONE, CODE, 'unknown')).toBe('');
  });

  it('refuses a stored MAC of the wrong length or not hex, without throwing', () => {
    for (const stored of ['', 'zz', '00'.repeat(31), '00'.repeat(33)]) {
      expect(sut.matches(stored, 'k1', USER, PHONE, CODE)).toBe(false);
    }
  });

  it('refuses an all-zero MAC under an unknown key (the placeholder it compares against)', () => {
    expect(sut.matches('00'.repeat(32), 'unknown', USER, PHONE, CODE)).toBe(false);
  });

  it('uses the key: the same input under another secret gives another MAC', () => {
    const other = codeMac(unitConfig({ CODE_HMAC_KEY: `k1:${Buffer.alloc(32, 9).toString('base64')}` }));
    expect(other.sign(USER, PHONE, CODE)).not.toBe(sut.sign(USER, PHONE, CODE));
  });

  it('names keys given without an id k1, k2, … in order', () => {
    const unnamed = codeMac(
      unitConfig({
        CODE_HMAC_KEY: `${Buffer.alloc(32, 1).toString('base64')},${Buffer.alloc(32, 2).toString('base64')}`,
      }),
    );
    expect(unnamed.currentKeyId).toBe('k1');
    expect(unnamed.sign(USER, PHONE, CODE, 'k2')).toBe(sut.sign(USER, PHONE, CODE, 'k0'));
  });

  it('derives a 32-byte key per purpose, different from the MAC key and from other purposes', () => {
    const outbox = sut.deriveKey('k1', 'outbox');
    expect(outbox).toHaveLength(32);
    expect(outbox!.equals(sut.deriveKey('k1', 'other')!)).toBe(false);
    expect(outbox!.equals(Buffer.alloc(32, 1))).toBe(false);
  });

  it('derives no key from an unknown key id', () => {
    expect(sut.deriveKey('unknown', 'outbox')).toBeUndefined();
  });
});
