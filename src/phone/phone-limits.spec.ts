import { Metrics } from '../common/metrics/metrics';
import { ManualClock } from '../../test/support/fakes/clock';
import { InMemoryBackoffStore } from '../../test/support/fakes/backoff-store';
import { InMemoryLimitStore } from '../../test/support/fakes/limit-store';
import { phoneLimitsFixture } from '../../test/support/fakes/phone-limits';
import { fakeTx } from '../../test/support/fakes/transactions';
import { rejectionOf } from '../../test/support/rejections';
import { AppError } from '../common/errors/app-error';
import { backoffKey, backoffKeyPrefix, PhoneLimits } from './phone-limits';
import { ParsedPhone } from './phone-number';

const MINUTE = 60_000;
const HOUR = 3_600_000;
const DAY = 86_400_000;
const USER = '300000000000000001';
const MOBILE: ParsedPhone = { e164: '+41791234567', country: 'CH', type: 'MOBILE' };

const thrown = (promise: Promise<unknown>) => rejectionOf(promise, AppError);

describe(PhoneLimits.name, () => {
  let sut: PhoneLimits;
  let store: InMemoryLimitStore;
  let backoff: InMemoryBackoffStore;
  let clock: ManualClock;
  let metrics: Metrics;
  let fixture: ReturnType<typeof phoneLimitsFixture>;

  function build(env: Record<string, string> = {}, limitStore = new InMemoryLimitStore()) {
    fixture = phoneLimitsFixture(env, limitStore);
    ({ sut, store, backoff, clock, metrics } = fixture);
  }

  const send = (userId = USER, phone: ParsedPhone = MOBILE, lastSmsAt?: Date) =>
    sut.assertMaySend(fakeTx, { userId, phone, now: clock.now(), lastSmsAt });
  const counted = () => [...store.hits.values()].reduce((n, hits) => n + hits.length, 0);

  beforeEach(() => build());

  describe('which numbers receive an SMS', () => {
    it('lets a mobile number receive one', async () => {
      await expect(send()).resolves.toBeUndefined();
    });

    it.each(['PREMIUM_RATE', 'SHARED_COST'])('refuses a %s number', async (type) => {
      const error = await thrown(send(USER, { e164: '+41900123456', country: 'CH', type }));
      expect(error).toMatchObject({ code: 3, id: 'PHONE-n0sms' });
      expect(error.extras.info).toMatchObject({ reason: 'SMS_REFUSED' });
    });

    it('counts nothing for a refused premium-rate number', async () => {
      await thrown(send(USER, { e164: '+41900123456', country: 'CH', type: 'PREMIUM_RATE' }));
      expect(counted()).toBe(0);
    });

    it('sends to every country when SMS_ALLOWED_COUNTRIES is unset', async () => {
      await expect(send(USER, { e164: '+33612345678', country: 'FR', type: 'MOBILE' })).resolves.toBeUndefined();
    });

    it('refuses a country outside SMS_ALLOWED_COUNTRIES, naming it', async () => {
      build({ SMS_ALLOWED_COUNTRIES: 'CH, DE' });
      const error = await thrown(send(USER, { e164: '+33612345678', country: 'FR', type: 'MOBILE' }));
      expect(error).toMatchObject({
        id: 'PHONE-n0sms',
        text: 'No SMS can be sent to this number: SMS are not sent to FR',
      });
    });

    it('sends to a country in SMS_ALLOWED_COUNTRIES', async () => {
      build({ SMS_ALLOWED_COUNTRIES: 'CH,DE' });
      await expect(send(USER, { e164: '+4915123456789', country: 'DE', type: 'MOBILE' })).resolves.toBeUndefined();
    });

    it('refuses a number of no known country when a country list is set', async () => {
      build({ SMS_ALLOWED_COUNTRIES: 'CH' });
      const error = await thrown(send(USER, { e164: '+80012345678', type: 'TOLL_FREE' }));
      expect(error.text).toBe('No SMS can be sent to this number: SMS are not sent to this country');
    });
  });

  describe('the resend cooldown', () => {
    it('refuses a second send within SMS_RESEND_COOLDOWN, saying when to retry', async () => {
      await send();
      clock.advance(20_000);
      const error = await thrown(send());
      expect(error).toMatchObject({ code: 8, id: 'PHONE-ratelimit' });
      expect(error.extras.retryAfterMs).toBe(40_000);
      expect(error.extras.info?.metadata).toEqual({ limit: 'sms_resend_cooldown', retryAfterSeconds: '40' });
    });

    it('allows the next send once the cooldown has passed', async () => {
      await send();
      clock.advance(MINUTE);
      await expect(send()).resolves.toBeUndefined();
    });

    it('holds from the pending code’s last SMS even when the store lost its counters', async () => {
      const lastSmsAt = clock.now();
      clock.advance(10_000);
      const error = await thrown(send(USER, MOBILE, lastSmsAt));
      expect(error.extras.retryAfterMs).toBe(50_000);
    });

    it('holds to the last millisecond of the cooldown', async () => {
      const lastSmsAt = new Date(clock.now().getTime() - MINUTE + 1);
      const error = await thrown(send(USER, MOBILE, lastSmsAt));
      expect(error.extras.retryAfterMs).toBe(1);
    });

    it('counts nothing for a send refused by the cooldown', async () => {
      const lastSmsAt = clock.now();
      await thrown(send(USER, MOBILE, lastSmsAt));
      expect(counted()).toBe(0);
    });

    it('never asks for a longer wait than the cooldown, even for a last SMS in the future', async () => {
      const error = await thrown(send(USER, MOBILE, new Date(clock.now().getTime() + HOUR)));
      expect(error.extras.retryAfterMs).toBe(MINUTE);
    });

    it('is off with SMS_RESEND_COOLDOWN=0s', async () => {
      build({ SMS_RESEND_COOLDOWN: '0s' });
      await send();
      await expect(send(USER, MOBILE, clock.now())).resolves.toBeUndefined();
    });

    it('is per user: another user may be sent a code to another number at once', async () => {
      await send();
      await expect(send('300000000000000002', { ...MOBILE, e164: '+41797654321' })).resolves.toBeUndefined();
    });
  });

  describe('sends per user per hour', () => {
    beforeEach(() => build({ SMS_RESEND_COOLDOWN: '0s', SMS_MAX_PER_USER_PER_HOUR: '3' }));

    it('allows SMS_MAX_PER_USER_PER_HOUR sends within an hour, then refuses', async () => {
      for (let i = 0; i < 3; i++) await send(USER, { ...MOBILE, e164: `+4179123456${i}` });
      const error = await thrown(send(USER, { ...MOBILE, e164: '+41791234569' }));
      expect(error.extras.info?.metadata.limit).toBe('sms_per_user_per_hour');
    });

    it('allows a send again when the first of the hour leaves the window', async () => {
      for (let i = 0; i < 3; i++) {
        await send();
        clock.advance(10 * MINUTE);
      }
      clock.advance(30 * MINUTE);
      await expect(send()).resolves.toBeUndefined();
    });
  });

  describe('sends per number per day', () => {
    beforeEach(() => build({ SMS_RESEND_COOLDOWN: '0s', SMS_MAX_PER_NUMBER_PER_DAY: '2' }));

    it('counts one account’s sends to a number, then refuses that account', async () => {
      await send();
      await send();
      const error = await thrown(send());
      expect(error.extras.info?.metadata.limit).toBe('sms_per_number_per_day');
    });

    it('never spends another account’s budget for the number', async () => {
      await send('300000000000000002');
      await send('300000000000000002');
      await thrown(send('300000000000000002'));
      await expect(send()).resolves.toBeUndefined();
      await expect(send()).resolves.toBeUndefined();
    });

    it('holds every account together to the ceiling, 5 × the cap unless SMS_NUMBER_CEILING_PER_DAY says', async () => {
      for (let i = 0; i < 10; i++) await send(`3000000000000001${String(i).padStart(2, '0')}`);
      const error = await thrown(send('300000000000000200'));
      expect(error.extras.info?.metadata.limit).toBe('sms_number_ceiling_per_day');
      build({ SMS_RESEND_COOLDOWN: '0s', SMS_MAX_PER_NUMBER_PER_DAY: '2', SMS_NUMBER_CEILING_PER_DAY: '3' });
      for (let i = 0; i < 3; i++) await send(`30000000000000030${i}`);
      expect((await thrown(send())).extras.info?.metadata.limit).toBe('sms_number_ceiling_per_day');
    });

    it('does not count a send that another limit refused', async () => {
      build({ SMS_RESEND_COOLDOWN: '0s', SMS_MAX_PER_NUMBER_PER_DAY: '2', SMS_MAX_PER_USER_PER_HOUR: '1' });
      await send();
      await thrown(send());
      clock.advance(HOUR);
      await expect(send()).resolves.toBeUndefined();
    });

    it('allows the number again after a day', async () => {
      await send();
      await send();
      clock.advance(DAY);
      await expect(send()).resolves.toBeUndefined();
    });

    it('counts a send to a number another account was sent one within the day as shared', async () => {
      const shared = async () =>
        (await metrics.registry.getSingleMetric('pv_sms_shared_number_sends_total')!.get()).values[0]?.value ?? 0;
      await send();
      await send();
      expect(await shared()).toBe(0);
      await send('300000000000000002');
      expect(await shared()).toBe(1);
      clock.advance(DAY);
      await send('300000000000000002');
      expect(await shared()).toBe(1);
    });
  });

  describe('the back-off per number', () => {
    const SECOND = 1_000;
    // the cooldown and the other limits out of the way: only the back-off refuses here
    const ENV = { SMS_RESEND_COOLDOWN: '0s', SMS_MAX_PER_USER_PER_HOUR: '100', SMS_MAX_PER_NUMBER_PER_DAY: '1000' };
    beforeEach(() => build(ENV));
    const waitAsked = async (userId = USER) => (await thrown(send(userId))).extras.retryAfterMs!;
    const backoffMetric = async () =>
      (await metrics.registry.getSingleMetric('pv_sms_backoff_wait_seconds')!.get()).values as Array<{
        metricName?: string;
        value: number;
      }>;
    const refusals = async () =>
      (await metrics.registry.getSingleMetric('pv_limit_refusals_total')!.get()).values.find(
        (v) => v.labels.limit === 'sms_backoff',
      )?.value;

    it('lets SMS_BACKOFF_FREE_SENDS sends go at once, then asks the next to wait SMS_BACKOFF_BASE', async () => {
      for (let i = 0; i < 3; i++) await send();
      const error = await thrown(send());
      expect(error).toMatchObject({ code: 8, id: 'PHONE-ratelimit' });
      expect(error.extras.retryAfterMs).toBe(60 * SECOND);
      expect(error.extras.info?.metadata).toEqual({ limit: 'sms_backoff', retryAfterSeconds: '60' });
    });

    it('doubles each further wait, up to SMS_BACKOFF_MAX', async () => {
      build({ ...ENV, SMS_BACKOFF_MAX: '10m' });
      for (let i = 0; i < 3; i++) await send();
      const waits: number[] = [];
      for (let i = 0; i < 6; i++) {
        const wait = await waitAsked();
        waits.push(wait / SECOND);
        clock.advance(wait);
        await send();
      }
      expect(waits).toEqual([60, 120, 240, 480, 600, 600]);
    });

    it('takes up to 20 % off a wait as jitter', async () => {
      for (let i = 0; i < 3; i++) {
        fixture.random = 0.999999;
        await send();
      }
      expect(await waitAsked()).toBe(48_000);
      fixture.random = 0.5;
      clock.advance(48_000);
      await send();
      expect(await waitAsked()).toBe(108_000);
    });

    it('is per (number, account): another account’s sends to the number never make this one wait', async () => {
      for (let i = 0; i < 5; i++) {
        clock.advance(HOUR);
        await send('300000000000000009');
      }
      expect(await waitAsked('300000000000000009')).toBe(240 * SECOND);
      for (let i = 0; i < 3; i++) await send();
      expect(await waitAsked()).toBe(60 * SECOND);
      await expect(send(USER, { ...MOBILE, e164: '+41797654321' })).resolves.toBeUndefined();
    });

    it('lets an operator clear a number for every account, and nothing of other numbers', async () => {
      for (const userId of [USER, '300000000000000009']) for (let i = 0; i < 3; i++) await send(userId);
      await send(USER, { ...MOBILE, e164: '+41797654321' });
      expect(await backoff.clear(backoffKeyPrefix(MOBILE.e164))).toBe(2);
      await expect(send()).resolves.toBeUndefined();
      await expect(send('300000000000000009')).resolves.toBeUndefined();
      expect(backoff.records.get(backoffKey('+41797654321', USER))?.sends).toBe(1);
    });

    it('counts nothing for a refused send: neither the back-off nor the other limits', async () => {
      for (let i = 0; i < 3; i++) await send();
      const before = counted();
      clock.advance(30 * SECOND);
      expect(await waitAsked()).toBe(30 * SECOND);
      expect(await waitAsked()).toBe(30 * SECOND);
      expect(counted()).toBe(before);
      expect(backoff.records.get(backoffKey(MOBILE.e164, USER))?.sends).toBe(3);
      clock.advance(30 * SECOND);
      await send();
      expect(await waitAsked()).toBe(120 * SECOND);
    });

    it('does not count a send another limit refused', async () => {
      build({ ...ENV, SMS_MAX_PER_USER_PER_HOUR: '2' });
      await send();
      await send();
      expect((await thrown(send())).extras.info?.metadata.limit).toBe('sms_per_user_per_hour');
      expect(backoff.records.get(backoffKey(MOBILE.e164, USER))?.sends).toBe(2);
    });

    it('starts over once the number was verified', async () => {
      for (let i = 0; i < 5; i++) {
        clock.advance(HOUR);
        await send();
      }
      expect(await waitAsked()).toBe(240 * SECOND);
      await sut.resetBackoff(fakeTx, MOBILE.e164, USER);
      for (let i = 0; i < 3; i++) await send();
      expect(await waitAsked()).toBe(60 * SECOND);
    });

    it('starts over only for the account that verified the number', async () => {
      for (const userId of [USER, '300000000000000009']) for (let i = 0; i < 3; i++) await send(userId);
      await sut.resetBackoff(fakeTx, MOBILE.e164, USER);
      await expect(send()).resolves.toBeUndefined();
      expect(await waitAsked('300000000000000009')).toBe(60 * SECOND);
    });

    it('starts over after 24 h without a send beyond the last wait', async () => {
      for (let i = 0; i < 4; i++) {
        clock.advance(HOUR);
        await send();
      }
      clock.advance(120 * SECOND + DAY);
      for (let i = 0; i < 3; i++) await send();
      expect(await waitAsked()).toBe(60 * SECOND);
    });

    it('counts refusals as sms_backoff and observes each wait imposed', async () => {
      for (let i = 0; i < 4; i++) {
        clock.advance(HOUR);
        await send();
      }
      await waitAsked();
      expect(await refusals()).toBe(1);
      const values = await backoffMetric();
      expect(values.find((v) => v.metricName === 'pv_sms_backoff_wait_seconds_count')?.value).toBe(2);
      expect(values.find((v) => v.metricName === 'pv_sms_backoff_wait_seconds_sum')?.value).toBe(180);
    });

    it('is off with SMS_BACKOFF_BASE=0s: nothing is stored, and a verification writes nothing', async () => {
      build({ ...ENV, SMS_BACKOFF_BASE: '0s' });
      for (let i = 0; i < 10; i++) await send();
      expect(backoff.records.size).toBe(0);
      expect(sut.resetBackoff(fakeTx, MOBILE.e164, USER)).toBeUndefined();
    });

    it('fails closed when the store cannot answer', async () => {
      backoff.failWith = new Error('Connection is closed.');
      await expect(send()).rejects.toThrow('Connection is closed.');
      expect(counted()).toBe(0);
    });
  });
});
