import { FraudThresholds, judge } from './sms-fraud-rules';
import { Bucket, DAY, FraudHistory, HOUR } from './sms-fraud-store';

/** 2026-03-10 12:00 UTC plus 30 minutes: the current hour started at 12:00. */
const NOW = new Date(Date.UTC(2026, 2, 10, 12, 30));
const THIS_HOUR = Date.UTC(2026, 2, 10, 12);

const DEFAULTS: FraudThresholds = {
  countryFloor: 20,
  countryHourlyFloor: 3,
  prefixFloor: 10,
  prefixHourlyFloor: 3,
  addressFloor: 10,
  addressMaxCountries: 3,
  ratio: 0.2,
  hourlyDivisor: 6,
};

/** Thresholds so high that only the rule a test is about can be hit. */
const ONLY = (overrides: Partial<FraudThresholds>): FraudThresholds => ({
  countryFloor: 1e6,
  countryHourlyFloor: 1e6,
  prefixFloor: 1e6,
  prefixHourlyFloor: 1e6,
  addressFloor: 1e6,
  addressMaxCountries: 250,
  ratio: 0.2,
  hourlyDivisor: 6,
  ...overrides,
});

const at = (hoursAgo: number, sent: number, verified = 0): Bucket => ({
  hour: THIS_HOUR - hoursAgo * HOUR,
  sent,
  verified,
});

function history(overrides: Partial<FraudHistory> = {}): FraudHistory {
  return {
    country: [],
    prefix: [],
    address: [],
    addressCountries: new Map(),
    numberVerified: false,
    ...overrides,
  };
}

describe(judge.name, () => {
  it('passes a send with no history', () => {
    expect(judge(history(), 'CH', NOW, DEFAULTS).hits).toEqual([]);
  });

  describe('per country, daily', () => {
    const t = ONLY({ countryFloor: 20 });

    it('tolerates unverified sends up to the floor, and blocks above it', () => {
      // 20 unverified sends spread over the day: not above the floor of 20
      expect(judge(history({ country: [at(0, 10), at(5, 5), at(23, 5)] }), 'CH', NOW, t).hits).toEqual([]);
      expect(judge(history({ country: [at(0, 10), at(5, 5), at(23, 6)] }), 'CH', NOW, t).hits).toEqual([
        'country_daily',
      ]);
    });

    it('counts only the last 24 hours (the current hour and the 23 before)', () => {
      expect(judge(history({ country: [at(0, 10), at(24, 50)] }), 'CH', NOW, t).measures.country_daily).toEqual({
        unverified: 10,
        threshold: 20,
      });
    });

    it('counts sends that were verified as normal: unverified = sent − verified', () => {
      expect(judge(history({ country: [at(1, 100, 85)] }), 'CH', NOW, t).measures.country_daily.unverified).toBe(15);
    });

    it('raises the threshold to 0.2 × the highest verified count of a day in the last 14 days', () => {
      // 13 days ago 500 verifications (a busy day): threshold 100
      const busyDay = { hour: THIS_HOUR - 13 * DAY, sent: 500, verified: 500 };
      const measures = judge(history({ country: [busyDay, at(0, 99)] }), 'CH', NOW, t).measures;
      expect(measures.country_daily).toEqual({ unverified: 99, threshold: 100 });
      expect(judge(history({ country: [busyDay, at(0, 101)] }), 'CH', NOW, t).hits).toEqual(['country_daily']);
    });

    it('forgets a busy day older than 14 days', () => {
      const old = { hour: THIS_HOUR - 14 * DAY, sent: 500, verified: 500 };
      expect(judge(history({ country: [old] }), 'CH', NOW, t).measures.country_daily.threshold).toBe(20);
    });

    it('takes the per-day maximum, not the sum over the 14 days', () => {
      const days = Array.from({ length: 10 }, (_, i) => ({
        hour: THIS_HOUR - (i + 1) * DAY,
        sent: 150,
        verified: 150,
      }));
      expect(judge(history({ country: days }), 'CH', NOW, t).measures.country_daily.threshold).toBe(30);
    });

    it('raises the threshold to 0.2 × the verifications of the last 24 hours', () => {
      // yesterday afternoon and this morning, 24 h rolling: 400 verified → 80
      const rolling = [at(20, 200, 200), at(2, 200, 200)];
      expect(judge(history({ country: rolling }), 'CH', NOW, t).measures.country_daily.threshold).toBe(80);
    });
  });

  describe('per country, hourly', () => {
    it('blocks above max(3, daily / 6, 0.2 × verified in the hour)', () => {
      const t = ONLY({ countryFloor: 20, countryHourlyFloor: 3 });
      // daily threshold 20 → 20 / 6 = 3.33: 3 unverified pass, 4 are too many
      expect(judge(history({ country: [at(0, 3)] }), 'CH', NOW, t).hits).toEqual([]);
      const four = judge(history({ country: [at(0, 4)] }), 'CH', NOW, t);
      expect(four.hits).toEqual(['country_hourly']);
      expect(four.measures.country_hourly.threshold).toBeCloseTo(20 / 6);
    });

    it('uses the hourly floor when it is higher than daily / 6', () => {
      const t = ONLY({ countryFloor: 12, countryHourlyFloor: 5 });
      expect(judge(history({ country: [at(0, 5)] }), 'CH', NOW, t).hits).toEqual([]);
      expect(judge(history({ country: [at(0, 6)] }), 'CH', NOW, t).hits).toEqual(['country_hourly']);
    });

    it('follows a raised daily threshold (busy days raise the hourly one too)', () => {
      const t = ONLY({ countryFloor: 20, countryHourlyFloor: 3 });
      const busyDay = { hour: THIS_HOUR - 3 * DAY, sent: 3000, verified: 3000 };
      // daily 600 → hourly 100
      expect(judge(history({ country: [busyDay, at(0, 100)] }), 'CH', NOW, t).hits).toEqual([]);
      expect(judge(history({ country: [busyDay, at(0, 101)] }), 'CH', NOW, t).hits).toEqual(['country_hourly']);
    });

    it('allows 0.2 × the verifications of this hour', () => {
      const t = ONLY({ countryFloor: 1, countryHourlyFloor: 1, ratio: 0.2, hourlyDivisor: 24 });
      // 500 sent, 400 verified this hour: 100 unverified > 0.2 × 400 = 80; with 480 verified: 20 ≤ 96
      expect(judge(history({ country: [at(0, 500, 400)] }), 'CH', NOW, t).hits).toContain('country_hourly');
      expect(judge(history({ country: [at(0, 500, 480)] }), 'CH', NOW, t).hits).not.toContain('country_hourly');
    });

    it('counts only the current hour', () => {
      const t = ONLY({ countryFloor: 20, countryHourlyFloor: 3 });
      expect(judge(history({ country: [at(1, 10)] }), 'CH', NOW, t).measures.country_hourly.unverified).toBe(0);
    });

    it('uses the settable divisor', () => {
      const t = ONLY({ countryFloor: 60, countryHourlyFloor: 1, hourlyDivisor: 3 });
      expect(judge(history({ country: [at(0, 20)] }), 'CH', NOW, t).hits).toEqual([]);
      expect(judge(history({ country: [at(0, 21)] }), 'CH', NOW, t).hits).toEqual(['country_hourly']);
    });
  });

  describe('per number prefix', () => {
    it('applies the same rule with its own floors', () => {
      const t = ONLY({ prefixFloor: 30, prefixHourlyFloor: 10 });
      expect(judge(history({ prefix: [at(0, 10)] }), 'CH', NOW, t).hits).toEqual([]);
      expect(judge(history({ prefix: [at(0, 11)] }), 'CH', NOW, t).hits).toEqual(['prefix_hourly']);
      expect(judge(history({ prefix: [at(3, 31)] }), 'CH', NOW, t).hits).toEqual(['prefix_daily']);
      expect(judge(history({ prefix: [at(0, 31)] }), 'CH', NOW, t).hits).toEqual(['prefix_hourly', 'prefix_daily']);
    });

    it('is not the country rule: a country over its floor does not touch the prefix', () => {
      const t = ONLY({ prefixFloor: 30, countryFloor: 20 });
      expect(judge(history({ country: [at(3, 21)], prefix: [at(3, 1)] }), 'CH', NOW, t).hits).toEqual([
        'country_daily',
      ]);
    });
  });

  describe('per client address', () => {
    it('blocks above max(10, 0.2 × verified in 24 h)', () => {
      const t = ONLY({ addressFloor: 10 });
      expect(judge(history({ address: [at(2, 10)] }), 'CH', NOW, t).hits).toEqual([]);
      expect(judge(history({ address: [at(2, 11)] }), 'CH', NOW, t).hits).toEqual(['address']);
      // a busy office: 100 verified in 24 h → 20 unverified tolerated
      expect(judge(history({ address: [at(2, 120, 100)] }), 'CH', NOW, t).hits).toEqual([]);
      expect(judge(history({ address: [at(2, 121, 100)] }), 'CH', NOW, t).hits).toEqual(['address']);
    });

    it('counts only the last 24 hours', () => {
      const t = ONLY({ addressFloor: 10 });
      expect(judge(history({ address: [at(24, 500)] }), 'CH', NOW, t).hits).toEqual([]);
    });

    it('blocks a 4th destination country in 24 h that this address never verified', () => {
      const t = ONLY({ addressMaxCountries: 3 });
      const three = new Map([
        ['DE', [at(1, 1)]],
        ['FR', [at(2, 1)]],
      ]);
      // DE, FR, and now IT: 3
      expect(judge(history({ addressCountries: three }), 'IT', NOW, t).hits).toEqual([]);
      const four = new Map([...three, ['GB', [at(3, 2)]]]);
      const verdict = judge(history({ addressCountries: four }), 'IT', NOW, t);
      expect(verdict.hits).toEqual(['address_countries']);
      expect(verdict.measures.address_countries).toEqual({ unverified: 4, threshold: 3 });
    });

    it('lets the address send to a country it has verified in before', () => {
      const t = ONLY({ addressMaxCountries: 3 });
      const countries = new Map([
        ['DE', [at(1, 1)]],
        ['FR', [at(2, 1)]],
        ['GB', [at(3, 1)]],
        // verified there 10 days ago
        ['IT', [{ hour: THIS_HOUR - 10 * DAY, sent: 1, verified: 1 }]],
      ]);
      expect(judge(history({ addressCountries: countries }), 'IT', NOW, t).hits).toEqual([]);
      expect(judge(history({ addressCountries: countries }), 'ES', NOW, t).hits).toEqual(['address_countries']);
    });

    it('does not count a country whose sends are older than 24 h', () => {
      const t = ONLY({ addressMaxCountries: 3 });
      const countries = new Map([
        ['DE', [at(1, 1)]],
        ['FR', [at(2, 1)]],
        ['GB', [at(30, 1)]],
      ]);
      expect(judge(history({ addressCountries: countries }), 'IT', NOW, t).hits).toEqual([]);
    });
  });

  it('reports the rules hit in their order, most specific first', () => {
    const verdict = judge(
      history({ country: [at(0, 500)], prefix: [at(0, 500)], address: [at(0, 500)] }),
      'CH',
      NOW,
      DEFAULTS,
    );
    expect(verdict.hits).toEqual(['prefix_hourly', 'prefix_daily', 'address', 'country_hourly', 'country_daily']);
  });
});
