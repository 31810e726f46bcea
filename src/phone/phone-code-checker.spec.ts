import { AppConfig } from '../common/config/app-config.module';
import { validateEnvironment } from '../common/config/env.schema';
import type { Tx } from '../database/sql';
import { LimitRule, LimitStore, LimitVerdict } from '../common/limits/limit-store';
import { UserEntity } from '../users/entities/user.entity';
import { CodeMac } from './code-mac';
import { PhoneCodeChecker } from './phone-code-checker';
import { PhoneCodeEntity } from './phone-code.entity';
import { PhoneCodesRepository } from './phone-codes.repository';
import { PhoneLimits } from './phone-limits';

/** A limit store whose answer to `check` a test chooses. */
class StubStore extends LimitStore {
  constructor(private readonly answer: () => Promise<LimitVerdict>) {
    super();
  }
  check(): Promise<LimitVerdict> {
    return this.answer();
  }
  take(): Promise<LimitVerdict> {
    throw new Error('not used');
  }
  record(): Promise<void> {
    throw new Error('not used');
  }
}

const now = new Date('2026-01-01T10:00:00Z');
const user = { id: 'u1', phone: '+41791234567', phoneVerified: false } as UserEntity;
const pending = {
  id: 'c1',
  phone: user.phone,
  mac: 'mac',
  keyId: 'k1',
  expiresAt: new Date(now.getTime() + 60_000),
  consumedAt: null,
} as PhoneCodeEntity;

function checker(answer: () => Promise<LimitVerdict>, codeMatches = true) {
  const config = validateEnvironment({}) as AppConfig;
  const writes: string[] = [];
  const codes = {
    claimAttempt: async () => (writes.push('attempt'), 1),
    consume: async () => (writes.push('consume'), true),
  } as unknown as PhoneCodesRepository;
  const mac = { matches: () => codeMatches } as unknown as CodeMac;
  const limits = new PhoneLimits(config, new StubStore(answer));
  return { checker: new PhoneCodeChecker(config, codes, mac, limits), writes };
}

const check = (c: PhoneCodeChecker) => c.check({} as Tx, user, pending, '123456', now);
const rule: LimitRule = { name: 'failed_checks_per_day', key: 'k', limit: 1, windowMs: 1000 };

describe(PhoneCodeChecker.name, () => {
  it('passes the right code once the limit allows it', async () => {
    const { checker: c, writes } = checker(async () => ({ ok: true }));
    expect(await check(c)).toEqual({ ok: true, value: undefined });
    expect(writes).toEqual(['attempt', 'consume']);
  });

  it('refuses, without counting, when the daily failure limit is reached', async () => {
    const { checker: c, writes } = checker(async () => ({ ok: false, rule, retryAfterMs: 5000 }));
    const outcome = await check(c);
    expect(outcome.ok).toBe(false);
    if (outcome.ok) return;
    expect(outcome.error.error).toMatchObject({ code: 8, id: 'PHONE-ratelimit' });
    expect(outcome.error.reason).toBe('failed_checks_per_day');
    expect(outcome.error.counts).toBe(false);
    expect(writes).toEqual([]);
  });

  it.each([
    ['a wrong code', false],
    ['the right code', true],
  ])('throws, and neither passes nor refuses %s, when the limit store cannot answer', async (_, right) => {
    const down = new Error('Connection is closed.');
    const { checker: c, writes } = checker(() => Promise.reject(down), right);
    await expect(check(c)).rejects.toBe(down);
    expect(writes).toEqual([]);
  });
});
