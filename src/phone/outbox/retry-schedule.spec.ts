import { nextAttemptAt, RetrySettings } from './retry-schedule';

const DEFAULTS: RetrySettings = { baseMs: 2_000, maxDelayMs: 60_000 };
const LIFE = 600_000;

/** Attempt times of a message whose every attempt fails at once, from creation until it is given up. */
function attemptsUntilGivenUp(settings: RetrySettings, random: () => number, life = LIFE): number[] {
  const times = [0];
  for (let i = 0; i < 10_000; i++) {
    const next = nextAttemptAt(times[times.length - 1], times.length, life, settings, random);
    if (next === undefined) return times;
    times.push(next);
  }
  throw new Error('never gave up');
}

describe(nextAttemptAt.name, () => {
  it.each([
    ['shortest', () => 0],
    ['longest', () => 0.999999],
    ['random', Math.random],
  ])('spreads the attempts over the whole life of the message (%s jitter)', (_name, random) => {
    const times = attemptsUntilGivenUp(DEFAULTS, random);
    const gaps = times.slice(1).map((t, i) => t - times[i]);
    // the first pauses double from SMS_RETRY_BASE (with jitter from the upper half)
    expect(gaps[0]).toBeGreaterThanOrEqual(1_000);
    expect(gaps[0]).toBeLessThanOrEqual(2_000);
    expect(gaps[1]).toBeGreaterThanOrEqual(2_000);
    expect(gaps[1]).toBeLessThanOrEqual(4_000);
    // never a pause longer than the cap, so an outage ending anywhere is noticed within a minute
    expect(Math.max(...gaps)).toBeLessThanOrEqual(60_000);
    // the last attempt is one base pause before the end, with the code still valid
    expect(times[times.length - 1]).toBe(LIFE - 2_000);
    expect(times.every((t) => t < LIFE)).toBe(true);
  });

  it.each([20_000, 300_000, 540_000])(
    'tries again within a minute of the end of a %i ms outage of a 10-minute message (the old schedule ended after ~30 s)',
    (outage) => {
      for (let run = 0; run < 50; run++) {
        const firstAfter = attemptsUntilGivenUp(DEFAULTS, Math.random).find((t) => t >= outage);
        expect(firstAfter).toBeDefined();
        expect(firstAfter! - outage).toBeLessThanOrEqual(60_000);
      }
    },
  );

  it('gives up at once when there is no time left for another attempt', () => {
    expect(nextAttemptAt(LIFE - 2_000, 3, LIFE, DEFAULTS, () => 0)).toBeUndefined();
    expect(nextAttemptAt(LIFE, 3, LIFE, DEFAULTS, () => 0)).toBeUndefined();
  });

  it('stops after SMS_MAX_ATTEMPTS attempts when it is set', () => {
    const times = attemptsUntilGivenUp({ ...DEFAULTS, maxAttempts: 4 }, () => 0.5);
    expect(times).toHaveLength(4);
    expect(nextAttemptAt(1_000, 4, LIFE, { ...DEFAULTS, maxAttempts: 4 })).toBeUndefined();
  });

  it('keeps the pauses at the cap however many attempts failed', () => {
    const next = nextAttemptAt(0, 5_000, 86_400_000, DEFAULTS, () => 0.999999)!;
    expect(next).toBeGreaterThanOrEqual(30_000);
    expect(next).toBeLessThanOrEqual(60_000);
  });
});
