import { ManualClock } from '../../../test/support/fakes/clock';
import { unitConfig } from '../../../test/support/fakes/config';
import { CapturingLogger, fraudGuard, InMemorySmsFraudStore } from '../../../test/support/fakes/sms-fraud';
import { fakeTx } from '../../../test/support/fakes/transactions';
import { Metrics } from '../../common/metrics/metrics';
import { PhoneCodeEntity } from '../phone-code.entity';
import { ParsedPhone } from '../phone-number';
import { numberPrefix, SmsFraudGuard } from './sms-fraud-guard';
import { hourOf } from './sms-fraud-store';

const ADDRESS = { clientAddress: '198.51.100.23' };
const mobile = (e164: string, country = 'CH'): ParsedPhone => ({ e164, country, type: 'MOBILE' });
/** Numbers of one prefix (+4179555). */
const pumped = (i: number) => mobile(`+4179555${String(i).padStart(4, '0')}`);

describe(SmsFraudGuard.name, () => {
  let store: InMemorySmsFraudStore;
  let logger: CapturingLogger;
  let metrics: Metrics;
  let clock: ManualClock;
  let sut: SmsFraudGuard;

  function build(env: Record<string, string> = {}) {
    store = new InMemorySmsFraudStore();
    logger = new CapturingLogger();
    metrics = new Metrics();
    clock = new ManualClock('2026-03-10T12:05:00Z');
    sut = fraudGuard(unitConfig(env), store, undefined, logger, metrics);
  }

  /** One send as the issuer makes it: judged, then (when admitted) counted. */
  async function send(phone: ParsedPhone, origin: { clientAddress: string } | undefined = ADDRESS) {
    const admission = await sut.admit(fakeTx, phone, origin, clock.now());
    if (!admission.blocked) await admission.count?.();
    return admission;
  }

  /** A code as the issuer stores it for a send the guard admitted. */
  async function sentCode(phone: ParsedPhone, origin = ADDRESS): Promise<PhoneCodeEntity> {
    const admission = await send(phone, origin);
    if (admission.blocked) throw new Error('blocked');
    return {
      phone: phone.e164,
      smsQueuedAt: clock.now(),
      sentFrom: admission.sentFrom,
      sentCountry: admission.country,
    } as PhoneCodeEntity;
  }

  async function decisions(): Promise<Record<string, number>> {
    const metric = await metrics.registry.getSingleMetric('pv_sms_fraud_decisions_total')!.get();
    return Object.fromEntries(
      metric.values
        .filter((v) => v.value > 0)
        .map((v) => [`${v.labels.rule}/${v.labels.mode}/${v.labels.decision}`, v.value]),
    );
  }

  /** Only the rule a test is about is within reach. */
  const QUIET = {
    SMS_FRAUD_MODE: 'enforce',
    SMS_FRAUD_COUNTRY_FLOOR: '100000',
    SMS_FRAUD_COUNTRY_HOURLY_FLOOR: '100000',
    SMS_FRAUD_PREFIX_FLOOR: '100000',
    SMS_FRAUD_PREFIX_HOURLY_FLOOR: '100000',
    SMS_FRAUD_ADDRESS_FLOOR: '100000',
  };
  const ENFORCE = { ...QUIET, SMS_FRAUD_PREFIX_FLOOR: '30', SMS_FRAUD_PREFIX_HOURLY_FLOOR: '10' };

  describe('enforce', () => {
    beforeEach(() => build(ENFORCE));

    it('blocks the send after the threshold with PHONE-pump1ng, the rule as reason, and an event without the number', async () => {
      for (let i = 0; i < 11; i++) expect((await send(pumped(i))).blocked).toBeUndefined();
      const { blocked } = await send(pumped(11));
      expect(blocked?.error).toMatchObject({
        code: 8,
        id: 'PHONE-pump1ng',
        extras: { info: { reason: 'SMS_PUMPING_PREFIX_HOURLY', metadata: { rule: 'prefix_hourly' } } },
      });
      expect(blocked?.event).toEqual({
        type: 'user.human.phone.code.send.blocked',
        payload: { rule: 'prefix_hourly', country: 'CH', prefix: '+4179555' },
      });
    });

    it('counts a blocked send for nothing', async () => {
      for (let i = 0; i < 15; i++) await send(pumped(i));
      expect(store.total('p:+4179555').sent).toBe(11);
    });

    it('stores no number: counters by country, prefix and address, the number only as a keyed hash', async () => {
      const code = await sentCode(pumped(1));
      await sut.verified(fakeTx, code, clock.now());
      const stored = JSON.stringify([[...store.counts.keys()], [...store.verifiedNumbers.keys()]]);
      expect(stored).not.toContain(pumped(1).e164);
      expect(stored).not.toContain(pumped(1).e164.slice(1));
      expect([...store.counts.keys()].sort()).toEqual(['a:198.51.100.23', 'ac:198.51.100.23|CH', 'c:CH', 'p:+4179555']);
      expect([...store.verifiedNumbers.keys()][0]).toMatch(/^[A-Za-z0-9_-]{43}$/);
    });

    it('lets a number verified before through, whatever its prefix has done since', async () => {
      const code = await sentCode(pumped(500));
      await sut.verified(fakeTx, code, clock.now());
      for (let i = 0; i < 30; i++) await send(pumped(i));
      expect((await send(pumped(31))).blocked).toBeDefined();
      expect((await send(pumped(500))).blocked).toBeUndefined();
      expect((await decisions())['verified_number/enforce/pass']).toBe(1);
    });

    it('forgets a verified number after SMS_FRAUD_REMEMBER_VERIFIED', async () => {
      build({ ...ENFORCE, SMS_FRAUD_REMEMBER_VERIFIED: '2d' });
      const code = await sentCode(pumped(500));
      await sut.verified(fakeTx, code, clock.now());
      clock.advance(3 * 86_400_000);
      for (let i = 0; i < 11; i++) await send(pumped(i));
      expect((await send(pumped(500))).blocked).toBeDefined();
    });

    it("counts a verification in the send's hour and the send's buckets, so it offsets that send", async () => {
      const code = await sentCode(pumped(1));
      clock.advance(3_600_000);
      await sut.verified(fakeTx, code, clock.now());
      const hours = store.counts.get('p:+4179555')!;
      expect([...hours.values()]).toEqual([{ hour: hourOf(code.smsQueuedAt!), sent: 1, verified: 1 }]);
      expect(store.total('ac:198.51.100.23|CH')).toEqual({ sent: 1, verified: 1 });
    });

    it('counts nothing for a code that was not sent while the guard counted', async () => {
      const code = { phone: '+41795550001', smsQueuedAt: clock.now(), sentFrom: null } as PhoneCodeEntity;
      expect(sut.verified(fakeTx, code, clock.now())).toBeUndefined();
      const returned = { phone: '+41795550001', smsQueuedAt: null, sentFrom: 'unknown' } as PhoneCodeEntity;
      expect(sut.verified(fakeTx, returned, clock.now())).toBeUndefined();
    });

    it('normal traffic elsewhere is untouched: another country, prefix and address', async () => {
      for (let i = 0; i < 20; i++) await send(pumped(i));
      const other = { clientAddress: '203.0.113.9' };
      for (let i = 0; i < 30; i++) {
        const code = await sentCode(mobile(`+4915123${String(450000 + i)}`, 'DE'), other);
        await sut.verified(fakeTx, code, clock.now());
      }
      expect((await decisions())['none/enforce/pass']).toBe(11 + 30);
    });

    it('blocks a client address above its floor across prefixes and countries', async () => {
      build({ ...QUIET, SMS_FRAUD_ADDRESS_FLOOR: '5', SMS_FRAUD_ADDRESS_MAX_COUNTRIES: '250' });
      const spread = (i: number) => mobile(`+4179${String(1000000 + i * 10007).padStart(7, '0')}`);
      // 5 unverified are not above the floor of 5: the 6th send goes out, the 7th does not
      for (let i = 0; i < 6; i++) expect((await send(spread(i))).blocked).toBeUndefined();
      expect((await send(spread(6))).blocked?.error.extras.info?.reason).toBe('SMS_PUMPING_ADDRESS');
      expect((await send(spread(7), { clientAddress: '198.51.100.24' })).blocked).toBeUndefined();
    });

    it('counts IPv6 clients by their /64, and IPv4-mapped addresses as IPv4', async () => {
      build({ ...QUIET, SMS_FRAUD_ADDRESS_FLOOR: '2', SMS_FRAUD_ADDRESS_MAX_COUNTRIES: '250' });
      const spread = (i: number) => mobile(`+4179${String(2000000 + i * 10007).padStart(7, '0')}`);
      await send(spread(0), { clientAddress: '2001:db8:1:2::1' });
      await send(spread(1), { clientAddress: '2001:db8:1:2:ffff::9' });
      await send(spread(2), { clientAddress: '2001:0db8:0001:0002:0:0:0:77' });
      expect((await send(spread(3), { clientAddress: '2001:db8:1:2::42' })).blocked).toBeDefined();
      expect(store.total('a:2001:db8:1:2::/64').sent).toBe(3);
      await send(spread(4), { clientAddress: '::ffff:192.0.2.1' });
      expect(store.total('a:192.0.2.1').sent).toBe(1);
    });

    it('blocks the 4th destination country an address never verified in', async () => {
      build(QUIET);
      const countries: Array<[string, string]> = [
        ['+4179123', 'CH'],
        ['+4915123', 'DE'],
        ['+3361234', 'FR'],
        ['+4477009', 'GB'],
      ];
      for (const [prefix, country] of countries.slice(0, 3)) {
        expect((await send(mobile(`${prefix}4567`, country))).blocked).toBeUndefined();
      }
      const { blocked } = await send(mobile(`${countries[3][0]}4567`, 'GB'));
      expect(blocked?.event.payload).toEqual({ rule: 'address_countries', country: 'GB', prefix: '+4477009' });
      // once it verified in CH, CH is no longer a country it never verified in: GB makes 3 again
      await sut.verified(fakeTx, await sentCode(mobile('+41791234568', 'CH')), clock.now());
      expect((await send(mobile('+41791234569', 'CH'))).blocked).toBeUndefined();
      expect((await send(mobile('+44770094567', 'GB'))).blocked).toBeUndefined();
      expect((await send(mobile('+34612345678', 'ES'))).blocked?.event.payload).toMatchObject({
        rule: 'address_countries',
      });
    });

    it('passes allow-listed addresses (CIDR), countries and number patterns without judging them', async () => {
      build({
        ...ENFORCE,
        SMS_FRAUD_ALLOWED_ADDRESSES: '10.0.0.0/8,2001:db8::/32',
        SMS_FRAUD_ALLOWED_COUNTRIES: 'LI',
        SMS_FRAUD_ALLOWED_NUMBERS: '+41795559*,+41795550042',
      });
      for (let i = 0; i < 11; i++) await send(pumped(i));
      expect((await send(pumped(20))).blocked).toBeDefined();
      expect((await send(pumped(21), { clientAddress: '10.20.30.40' })).blocked).toBeUndefined();
      expect((await send(pumped(22), { clientAddress: '::ffff:10.1.1.1' })).blocked).toBeUndefined();
      expect((await send(pumped(23), { clientAddress: '2001:db8:ff::1' })).blocked).toBeUndefined();
      expect((await send(pumped(9123))).blocked).toBeUndefined();
      expect((await send(pumped(42))).blocked).toBeUndefined();
      expect((await send(pumped(43))).blocked).toBeDefined();
      expect((await send(mobile('+41795550044', 'LI'))).blocked).toBeUndefined();
      expect(await decisions()).toMatchObject({
        'allowed_address/enforce/pass': 3,
        'allowed_number/enforce/pass': 2,
        'allowed_country/enforce/pass': 1,
        'prefix_hourly/enforce/block': 2,
      });
    });

    it('logs a block at warn with rule, counts and thresholds, and passes only at debug', async () => {
      for (let i = 0; i < 12; i++) await send(pumped(i));
      expect(logger.lines.filter((l) => l.level === 'warn')).toHaveLength(1);
      expect(logger.lines.filter((l) => l.level === 'debug')).toHaveLength(11);
      expect(logger.lines.find((l) => l.level === 'warn')!.object.smsFraud).toMatchObject({
        mode: 'enforce',
        decision: 'block',
        rule: 'prefix_hourly',
        country: 'CH',
        prefix: '+4179555',
        measures: { prefix_hourly: { unverified: 11, threshold: 10 } },
      });
    });
  });

  describe('record', () => {
    beforeEach(() => build({ ...ENFORCE, SMS_FRAUD_MODE: 'record' }));

    it('blocks nothing, counts every send, and flags what enforce would block', async () => {
      for (let i = 0; i < 200; i++) expect((await send(pumped(i))).blocked).toBeUndefined();
      expect(store.total('p:+4179555').sent).toBe(200);
      expect(await decisions()).toEqual({ 'none/record/pass': 11, 'prefix_hourly/record/flag': 189 });
    });

    it('logs every decision as one line, never with the full number', async () => {
      for (let i = 0; i < 20; i++) await send(pumped(i));
      const lines = logger.lines.filter((l) => l.object.smsFraud);
      expect(lines).toHaveLength(20);
      expect(lines.every((l) => l.level === 'info')).toBe(true);
      expect(lines.map((l) => l.object.smsFraud.decision)).toEqual([
        ...Array(11).fill('pass'),
        ...Array(9).fill('flag'),
      ]);
      expect(JSON.stringify(lines)).not.toMatch(/\+4179555\d{4}/);
    });
  });

  describe('off', () => {
    beforeEach(() => build({ ...ENFORCE, SMS_FRAUD_MODE: 'off' }));

    it('judges, counts and logs nothing, and marks no code', async () => {
      for (let i = 0; i < 50; i++) {
        const admission = await send(pumped(i));
        expect(admission).toEqual({ sentFrom: null, country: null });
      }
      expect(store.counts.size).toBe(0);
      expect(logger.lines).toEqual([]);
      expect(await decisions()).toEqual({});
    });
  });

  it('fails closed: a store that cannot answer makes the send fail, never pass', async () => {
    build(ENFORCE);
    store.failWith = new Error('down');
    await expect(sut.admit(fakeTx, pumped(1), ADDRESS, clock.now())).rejects.toThrow('down');
  });

  it('takes the prefix as the number without its last 4 digits', () => {
    expect(numberPrefix('+41795550123')).toBe('+4179555');
    expect(numberPrefix('+12025550123')).toBe('+1202555');
  });
});
