import { validateEnvironment } from '../../app.config';
import { unitConfig } from '../../../test/support/fakes/config';
import { InMemorySpendCounts, spendGuard } from '../../../test/support/fakes/sms-spend';
import { parseAmount, parseReportedPrice } from './money';
import { PriceTable } from './price-table';
import { capApplies, CountryGroups, dayStart, monthStart, parseCaps, previousMonthStart } from './spend-caps';

const tx = undefined as never;

describe('money', () => {
  it('reads amounts as integer micros, exactly', () => {
    expect(parseAmount('0.0741')).toBe(74_100);
    expect(parseAmount('200')).toBe(200_000_000);
    expect(parseAmount('0.1')! + parseAmount('0.2')!).toBe(parseAmount('0.3'));
    for (const bad of ['-1', '1.1234567', '1e3', 'abc', '']) expect(parseAmount(bad)).toBeUndefined();
  });

  it("reads a provider's reported price: Vonage's 8 decimals, Twilio's negative sign", () => {
    expect(parseReportedPrice('0.03330000')).toBe(33_300);
    expect(parseReportedPrice('-0.00750')).toBe(7_500);
    expect(parseReportedPrice('0.0000005')).toBe(1);
    expect(parseReportedPrice('')).toBeUndefined();
    expect(parseReportedPrice('null')).toBeUndefined();
  });
});

describe(PriceTable.name, () => {
  const { table, problems } = PriceTable.parse('twilio:CH=0.0741,twilio:*=0.05,*:LV=0.25,*:*=0.01,vonage:CH=0.06');

  it('takes the most specific entry: provider and country, provider, country, *:*', () => {
    expect(problems).toEqual([]);
    expect(table.price('twilio', 'CH')).toBe(74_100);
    expect(table.price('twilio', 'DE')).toBe(50_000);
    expect(table.price('vonage', 'LV')).toBe(250_000);
    expect(table.price('vonage', 'DE')).toBe(10_000);
    expect(table.price('twilio', undefined)).toBe(50_000);
  });

  it('is zero (unknown) where nothing matches; the worst case is the dearest provider', () => {
    expect(PriceTable.EMPTY.price('twilio', 'CH')).toBe(0);
    expect(table.worstCase(['twilio', 'vonage'], 'CH')).toBe(74_100);
    expect(table.worstCase([], 'CH')).toBe(0);
  });

  it('names each bad entry', () => {
    expect(PriceTable.parse('twilio:CH=1,twilio=2,x:ch=1,a:CH=1.1234567,twilio:CH=3').problems).toEqual([
      'not provider:COUNTRY=amount (such as twilio:CH=0.0741): "twilio=2"',
      'not provider:COUNTRY=amount (such as twilio:CH=0.0741): "x:ch=1"',
      'not provider:COUNTRY=amount (such as twilio:CH=0.0741): "a:CH=1.1234567"',
      'twilio:CH is priced twice',
    ]);
  });
});

describe('caps', () => {
  const { groups } = CountryGroups.parse('premium=LV|LT|EE,dach=DE|AT|CH');

  it('parses instance, org and country caps per day and month', () => {
    const { caps, problems } = parseCaps(
      'day:200,month:3000,org.day:50,country.premium.day:200,country.FR.month:0.5',
      groups,
    );
    expect(problems).toEqual([]);
    expect(caps).toEqual([
      { name: 'day', scope: 'instance', target: undefined, window: 'day', micros: 200_000_000 },
      { name: 'month', scope: 'instance', target: undefined, window: 'month', micros: 3_000_000_000 },
      { name: 'org.day', scope: 'org', target: undefined, window: 'day', micros: 50_000_000 },
      { name: 'country.premium.day', scope: 'country', target: 'premium', window: 'day', micros: 200_000_000 },
      { name: 'country.FR.month', scope: 'country', target: 'FR', window: 'month', micros: 500_000 },
    ]);
    expect(capApplies(caps[3], 'LV', groups.of('LV'))).toBe(true);
    expect(capApplies(caps[3], 'CH', groups.of('CH'))).toBe(false);
    expect(capApplies(caps[4], 'FR', undefined)).toBe(true);
    expect(capApplies(caps[2], undefined, undefined)).toBe(true);
  });

  it('refuses unknown groups, zero, bad windows and duplicates', () => {
    expect(parseCaps('week:1,day:0,country.asia.day:5,org.day:1,org.day:2', groups).problems).toEqual([
      'not [org.|country.<CODE or group>.]day|month:amount with an amount above 0 (such as org.day:50): "week:1"',
      'not [org.|country.<CODE or group>.]day|month:amount with an amount above 0 (such as org.day:50): "day:0"',
      'country.asia.day:5: no group asia in SMS_SPEND_COUNTRY_GROUPS',
      'org.day is capped twice',
    ]);
    expect(CountryGroups.parse('a=CH,b=CH|DE,c=ch').problems).toEqual([
      'CH is in two groups (a, b)',
      'not name=CC|CC (such as premium=LV|LT): "c=ch"',
    ]);
  });

  it('windows are UTC days and months', () => {
    const at = new Date('2026-03-31T23:59:59.999Z');
    expect(new Date(dayStart(at)).toISOString()).toBe('2026-03-31T00:00:00.000Z');
    expect(new Date(monthStart(at)).toISOString()).toBe('2026-03-01T00:00:00.000Z');
    const next = new Date(at.getTime() + 1);
    expect(new Date(dayStart(next)).toISOString()).toBe('2026-04-01T00:00:00.000Z');
    expect(new Date(monthStart(next)).toISOString()).toBe('2026-04-01T00:00:00.000Z');
    // kept by retention from the month before, across a year's end too
    expect(new Date(previousMonthStart(next)).toISOString()).toBe('2026-03-01T00:00:00.000Z');
    expect(new Date(previousMonthStart(new Date('2027-01-15T00:00:00Z'))).toISOString()).toBe(
      '2026-12-01T00:00:00.000Z',
    );
  });

  it('refuses bad settings at start in one message naming each variable', () => {
    expect(() =>
      validateEnvironment({ SMS_PRICES: 'twilio:CH=abc', SMS_SPEND_CAPS: 'org.week:5', SMS_PRICE_CURRENCY: 'euro' }),
    ).toThrow(
      /SMS_PRICE_CURRENCY must be an ISO 4217[^\n]*\n {2}SMS_PRICES: not provider:COUNTRY=amount[^\n]*\n {2}SMS_SPEND_CAPS: not \[org/,
    );
  });
});

describe('SmsSpendGuard', () => {
  const env = {
    SMS_PROVIDER: 'webhook',
    SMS_WEBHOOK_URL: 'https://gateway.example.com/sms',
    SMS_PRICES: 'webhook:CH=0.1,webhook:*=0.02',
    SMS_SPEND_CAPS: 'org.day:0.3,country.CH.month:0.5',
  };
  const now = new Date('2026-05-10T12:00:00Z');
  const row = { orgId: 'o1', recipient: '+41791234567' };

  function build(mode: string) {
    const counts = new InMemorySpendCounts();
    return { counts, guard: spendGuard(unitConfig({ ...env, SMS_SPEND_MODE: mode }), counts) };
  }

  it('enforce: refuses once the estimate would pass a cap, with SPEND_CAP and an event naming the cap', async () => {
    const { guard } = build('enforce');
    for (let i = 0; i < 3; i++) {
      expect(await guard.admit(tx, { orgId: 'o1', country: 'CH', now })).toBeUndefined();
      await guard.accepted(tx, row, 'webhook', now);
    }
    const block = await guard.admit(tx, { orgId: 'o1', country: 'CH', now });
    expect(block?.error).toMatchObject({
      code: 8,
      id: 'PHONE-sp3ndcap',
      extras: { info: { reason: 'SPEND_CAP', metadata: { cap: 'org.day' } } },
    });
    expect(block?.event.payload).toEqual({ rule: 'spend_cap', cap: 'org.day', country: 'CH' });
    // another org: its own day cap, the shared CH month cap (0.3 of 0.5) still has room
    expect(await guard.admit(tx, { orgId: 'o2', country: 'CH', now })).toBeUndefined();
    // the next UTC day: the org's day cap is fresh
    expect(
      await guard.admit(tx, { orgId: 'o1', country: 'CH', now: new Date('2026-05-11T00:00:01Z') }),
    ).toBeUndefined();
  });

  it('record: never refuses, counts all the same', async () => {
    const { guard, counts } = build('record');
    for (let i = 0; i < 5; i++) {
      expect(await guard.admit(tx, { orgId: 'o1', country: 'CH', now })).toBeUndefined();
      await guard.accepted(tx, row, 'webhook', now);
    }
    expect((await counts.sums(tx, ['o:o1', 'c:CH', 'i'], monthStart(now), dayStart(now))).get('o:o1')).toEqual({
      day: 500_000,
      month: 500_000,
    });
  });

  it("a reported price replaces the estimate on the day it was counted; another currency's is ignored", async () => {
    const { guard, counts } = build('record');
    const spend = (await guard.accepted(tx, row, 'webhook', now))!;
    expect(spend).toEqual({ spendMicros: 100_000, spendDay: dayStart(now) });
    const counted = { ...row, ...spend };
    expect(await guard.reported(tx, counted, 'webhook', { micros: 100_000, currency: 'USD' })).toBeUndefined();
    expect(await guard.reported(tx, counted, 'webhook', { micros: 73_000 })).toEqual({ spendMicros: 73_000 });
    const sums = await counts.sums(tx, undefined, monthStart(now), dayStart(now));
    for (const key of ['i', 'o:o1', 'c:CH', 'p:webhook|CH'])
      expect(sums.get(key)).toEqual({ day: 73_000, month: 73_000 });
  });

  it('off: counts nothing', async () => {
    const { guard, counts } = build('off');
    expect(await guard.accepted(tx, row, 'webhook', now)).toBeUndefined();
    expect(counts.days.size).toBe(0);
  });
});
