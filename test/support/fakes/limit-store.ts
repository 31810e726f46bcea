import { LimitRule, LimitStore, LimitVerdict } from '../../../src/common/limits/limit-store';

/**
 * Rolling windows in memory with the database store's arithmetic: a rule refuses when `limit`
 * hits of its key lie within (now − window, now], until the oldest of those leaves the window.
 * `failWith` makes every call reject, as a store that cannot answer does.
 */
export class InMemoryLimitStore implements LimitStore {
  readonly hits = new Map<string, number[]>();
  failWith?: Error;

  async take(rules: LimitRule[], now: Date): Promise<LimitVerdict> {
    const verdict = await this.check(rules, now);
    if (verdict.ok) await this.record(rules, now);
    return verdict;
  }

  async check(rules: LimitRule[], now: Date): Promise<LimitVerdict> {
    this.failIfDown();
    for (const rule of rules) {
      const counted = this.within(rule, now).sort((a, b) => b - a);
      if (counted.length >= rule.limit) {
        return { ok: false, rule, retryAfterMs: Math.max(1, counted[rule.limit - 1] + rule.windowMs - now.getTime()) };
      }
    }
    return { ok: true };
  }

  async record(rules: LimitRule[], now: Date): Promise<void> {
    this.failIfDown();
    for (const rule of rules) this.hits.set(rule.key, [...this.within(rule, now), now.getTime()]);
  }

  async hitsWithin(key: string, windowMs: number, now: Date): Promise<number> {
    this.failIfDown();
    return (this.hits.get(key) ?? []).filter((at) => at > now.getTime() - windowMs).length;
  }

  /** How many hits of `key` were counted at all. */
  count(key: string): number {
    return this.hits.get(key)?.length ?? 0;
  }

  private within(rule: LimitRule, now: Date): number[] {
    return (this.hits.get(rule.key) ?? []).filter((at) => at > now.getTime() - rule.windowMs);
  }

  private failIfDown(): void {
    if (this.failWith) throw this.failWith;
  }
}
