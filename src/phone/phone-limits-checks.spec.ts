import { ManualClock } from '../../test/support/fakes/clock';
import { InMemoryLimitStore } from '../../test/support/fakes/limit-store';
import { phoneLimitsFixture } from '../../test/support/fakes/phone-limits';
import { fakeTx } from '../../test/support/fakes/transactions';
import { LimitRule, TakenHit } from '../common/limits/limit-store';
import { PhoneLimits } from './phone-limits';

const DAY = 86_400_000;
const USER = '300000000000000001';

describe(`${PhoneLimits.name}: failed checks`, () => {
  let sut: PhoneLimits;
  let store: InMemoryLimitStore;
  let clock: ManualClock;

  function build(env: Record<string, string> = {}, limitStore = new InMemoryLimitStore()) {
    ({ sut, store, clock } = phoneLimitsFixture(env, limitStore));
  }

  const counted = () => [...store.hits.values()].reduce((n, hits) => n + hits.length, 0);

  beforeEach(() => build());

  describe('failed checks per user per day', () => {
    const mayCheck = (userId = USER) => sut.mayCheck(fakeTx, userId, clock.now())();
    const fail = async (n: number, userId = USER) => {
      for (let i = 0; i < n; i++) await sut.recordFailedCheck(fakeTx, userId, clock.now());
    };

    it('allows a check below PHONE_MAX_FAILED_PER_DAY failures', async () => {
      await fail(14);
      expect(await mayCheck()).toMatchObject({ ok: true, value: { lastBeforeLockout: true } });
    });

    it('refuses a check at PHONE_MAX_FAILED_PER_DAY failures, as rate-limited', async () => {
      await fail(15);
      const outcome = await mayCheck();
      expect(outcome.ok).toBe(false);
      if (outcome.ok) return;
      expect(outcome.error).toMatchObject({ code: 8, id: 'PHONE-ratelimit' });
      expect(outcome.error.extras.info?.metadata.limit).toBe('failed_checks_per_day');
    });

    it('returns the refusal rather than throwing it', async () => {
      await fail(15);
      await expect(mayCheck()).resolves.toMatchObject({ ok: false });
    });

    it('counts a check as nothing: only a recorded failure counts', async () => {
      for (let i = 0; i < 20; i++) await mayCheck();
      expect(counted()).toBe(0);
    });

    it('says whether the next failure counted reaches the limit (locks the user out)', async () => {
      build({ PHONE_MAX_FAILED_PER_DAY: '3' });
      const next: unknown[] = [];
      for (let i = 0; i < 3; i++) {
        const allowed = await mayCheck();
        next.push(allowed.ok && allowed.value.lastBeforeLockout);
        await sut.recordFailedCheck(fakeTx, USER, clock.now());
      }
      expect(next).toEqual([false, false, true]);
      expect((await mayCheck()).ok).toBe(false);
    });

    it('keeps each user’s failures apart', async () => {
      await fail(15, '300000000000000002');
      expect((await mayCheck()).ok).toBe(true);
    });

    it('follows PHONE_MAX_FAILED_PER_DAY', async () => {
      build({ PHONE_MAX_FAILED_PER_DAY: '2' });
      await fail(2);
      expect((await mayCheck()).ok).toBe(false);
    });

    it('forgets failures older than 24 h', async () => {
      await fail(15);
      clock.advance(DAY);
      expect((await mayCheck()).ok).toBe(true);
    });

    it('throws when the store cannot answer', async () => {
      store.failWith = new Error('Connection is closed.');
      await expect(mayCheck()).rejects.toThrow('Connection is closed.');
    });

    it('counts a failure only when the check fails: with its closing writes (the database store)', async () => {
      const allowed = await mayCheck();
      if (!allowed.ok) throw new Error('expected the check to be allowed');
      expect(counted()).toBe(0);
      expect(allowed.value.giveBack()).toBeUndefined();
      await allowed.value.countFailure();
      expect(counted()).toBe(1);
    });
  });

  describe('failed checks per user per day, on a store that takes a hit ahead (Redis)', () => {
    /** The in-memory store with an atomic take (no await between check and count), as RedisLimitStore's script. */
    class TakingStore extends InMemoryLimitStore {
      async takeHit(rule: LimitRule, now: Date): Promise<TakenHit> {
        if (this.failWith) throw this.failWith;
        const since = now.getTime() - rule.windowMs;
        const hits = (this.hits.get(rule.key) ?? []).filter((at) => at > since).sort((a, b) => b - a);
        if (hits.length >= rule.limit) {
          return { ok: false, rule, retryAfterMs: Math.max(1, hits[rule.limit - 1] + rule.windowMs - now.getTime()) };
        }
        const entry = now.getTime();
        hits.push(entry);
        this.hits.set(rule.key, hits);
        const giveBack = async () => {
          const left = this.hits.get(rule.key) ?? [];
          left.splice(left.indexOf(entry), 1);
        };
        return { ok: true, hits: hits.length, giveBack };
      }
    }

    const mayCheck = () => sut.mayCheck(fakeTx, USER, clock.now())();
    const allow = async () => {
      const allowed = await mayCheck();
      if (!allowed.ok) throw new Error('expected the check to be allowed');
      return allowed.value;
    };

    beforeEach(() => build({ PHONE_MAX_FAILED_PER_DAY: '2' }, new TakingStore()));

    it('takes nothing before the checker asks', () => {
      sut.mayCheck(fakeTx, USER, clock.now());
      expect(counted()).toBe(0);
    });

    it('counts the failure when the check is allowed, before the comparison; a failed check writes nothing more', async () => {
      const allowed = await allow();
      expect(counted()).toBe(1);
      expect(allowed.countFailure()).toBeUndefined();
      expect(counted()).toBe(1);
    });

    it('gives the failure back when the check counts none (the code matched)', async () => {
      const allowed = await allow();
      await allowed.giveBack();
      expect(counted()).toBe(0);
      expect((await mayCheck()).ok).toBe(true);
    });

    it('lets no more parallel checks through than the limit allows', async () => {
      const outcomes = await Promise.all(Array.from({ length: 5 }, () => mayCheck()));
      expect(outcomes.map((o) => o.ok)).toEqual([true, true, false, false, false]);
      expect(counted()).toBe(2);
      const refused = outcomes[2];
      if (refused.ok) return;
      expect(refused.error).toMatchObject({ code: 8, id: 'PHONE-ratelimit' });
      expect(refused.error.extras.info?.metadata.limit).toBe('failed_checks_per_day');
    });

    it('says which check reaches the limit (locks the user out)', async () => {
      expect((await allow()).lastBeforeLockout).toBe(false);
      expect((await allow()).lastBeforeLockout).toBe(true);
    });

    it('throws when the store cannot answer', async () => {
      store.failWith = new Error('Connection is closed.');
      await expect(mayCheck()).rejects.toThrow('Connection is closed.');
    });
  });
});
