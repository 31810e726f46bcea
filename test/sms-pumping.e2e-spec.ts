import type { ServiceError } from '@grpc/grpc-js';
import { Redis } from 'ioredis';
import { In } from 'typeorm';
import { SmsOutboxEntity } from '../src/phone/outbox/sms-outbox.entity';
import { eventsOf } from './support/events';
import { createHuman, createOrg } from './support/factories';
import { FakeHttpServer } from './support/fake-http';
import { until } from './support/wait';
import { OwnRedis } from './support/own-servers';
import { scrape, valueOf } from './support/prometheus';
import { bearer, DATABASES, dataSourceOf, Db, freePort, startApp, TestApp } from './support/test-app';
import { closeGrpcClients, grpcClients, grpcErrorResult, grpcUnary } from './support/transports';
import { ERROR_DETAIL, ERROR_INFO } from './support/wire';

jest.setTimeout(120_000);

const HOUR = 3_600_000;
/** One prefix (+4179555, the number without its last 4 digits): 200 valid Swiss mobile numbers. */
const PUMPED = Array.from({ length: 200 }, (_, i) => `+4179555${String(i).padStart(4, '0')}`);
/** Of the same prefix, verified before the run: it always passes. */
const VERIFIED_BEFORE = '+41795559777';
/** Any full number of the run (a prefix alone is allowed in a log line). */
const FULL_NUMBER = /\+4179555\d{4}|\+49151\d{8}/;
const PUMP_ADDRESS = '198.51.100.23';
const NORMAL_ADDRESS = '203.0.113.9';
const USERS = 20;
/** prefix hourly threshold max(10, 30 / 6, 0.2 × verified): the 12th unverified send breaks it */
const PASSING = 11;
const BLOCK_REASON = 'SMS_PUMPING_PREFIX_HOURLY';

const guardEnv = (mode: string, webhook: string): Record<string, string> => ({
  SMS_FRAUD_MODE: mode,
  SMS_FRAUD_PREFIX_FLOOR: '30',
  SMS_FRAUD_PREFIX_HOURLY_FLOOR: '10',
  SMS_FRAUD_COUNTRY_FLOOR: '500',
  SMS_FRAUD_COUNTRY_HOURLY_FLOOR: '500',
  SMS_FRAUD_ADDRESS_FLOOR: '1000',
  SMS_PROVIDER: 'webhook',
  SMS_WEBHOOK_URL: webhook,
  // the pumping run and the normal traffic come from two clients behind the local proxy
  TRUSTED_PROXIES: '127.0.0.1',
});

/** A German mobile number of its own for each normal signup. */
let normalCounter = 0;
const germanMobile = () => `+49151${String(23_450_000 + normalCounter++).padStart(8, '0')}`;

interface Run {
  pumped: Array<{ userId: string; phone: string; status: number; body: any }>;
  normal: Array<{ userId: string; phone: string; set: number; verify: number }>;
  users: string[];
}

describe.each([...DATABASES.map((db) => ({ db, redis: false })), { db: 'sqlite' as Db, redis: true }])(
  'SMS pumping guard ($db, redis: $redis)',
  ({ db, redis }) => {
    const webhook = new FakeHttpServer();
    let ownRedis: OwnRedis | undefined;

    beforeAll(async () => {
      await webhook.start();
      if (redis) ownRedis = await OwnRedis.start();
    }, 60_000);
    afterAll(async () => {
      await webhook.close();
      await ownRedis?.stop();
    }, 60_000);

    async function start(mode: string): Promise<TestApp> {
      const env = guardEnv(mode, `${webhook.url}/sms`);
      if (ownRedis) {
        // each run starts from empty counters, as on a fresh database
        const client = new Redis(ownRedis.url);
        await client.flushall();
        client.disconnect();
        env.REDIS_URL = ownRedis.url;
      }
      const t = await startApp(db, { ...env, METRICS_PORT: String(await freePort()) });
      // a fixed hour: the run stays inside one hourly bucket wherever the wall clock is
      t.clock.advance(Math.ceil(Date.now() / HOUR) * HOUR + 60_000 - Date.now());
      return t;
    }

    const post = (t: TestApp, path: string, from: string, body: object) =>
      t.http().post(path).set(bearer(t.adminToken)).set('X-Forwarded-For', from).send(body);

    /** Sets `phone` with send_code and verifies it with the code the webhook got. */
    async function signUp(t: TestApp, userId: string, phone: string) {
      const set = await post(t, `/v2/users/${userId}/phone`, NORMAL_ADDRESS, { phone, sendCode: {} });
      if (set.status !== 200) return { set: set.status, verify: 0 };
      const [message] = await until('the code at the webhook', () =>
        webhook.requests.filter((r) => r.json.userId === userId && r.json.to === phone),
      );
      const verified = await post(t, `/v2/users/${userId}/phone/verify`, NORMAL_ADDRESS, {
        verificationCode: message.json.code,
      });
      return { set: set.status, verify: verified.status };
    }

    /**
     * 200 sends to one prefix from one address (never verified) over 20 accounts, with a normal
     * signup to Germany (sent and verified, from another address) after every 20 of them.
     */
    async function pump(t: TestApp): Promise<Run> {
      const orgId = await createOrg(t);
      const regular = (await createHuman(t, { orgId })).userId;
      expect(await signUp(t, regular, VERIFIED_BEFORE)).toEqual({ set: 200, verify: 200 });
      const users: string[] = [];
      for (let i = 0; i < USERS; i++) users.push((await createHuman(t, { orgId })).userId);
      const run: Run = { pumped: [], normal: [], users };
      for (const [i, phone] of PUMPED.entries()) {
        const userId = users[i % USERS];
        const res = await post(t, `/v2/users/${userId}/phone`, PUMP_ADDRESS, { phone, sendCode: {} });
        run.pumped.push({ userId, phone, status: res.status, body: res.body });
        if (i % 20 === 19) {
          const { userId: normalUser } = await createHuman(t, { orgId });
          const phone = germanMobile();
          run.normal.push({ userId: normalUser, phone, ...(await signUp(t, normalUser, phone)) });
        }
      }
      return run;
    }

    const outboxTo = (t: TestApp, numbers: string[]) =>
      dataSourceOf(t)
        .getRepository(SmsOutboxEntity)
        .count({ where: { recipient: In(numbers) } });

    const decisionLines = (t: TestApp) =>
      t.logs.filter((line) => line.includes('"smsFraud"')).map((line) => JSON.parse(line) as Record<string, any>);

    describe('enforce', () => {
      let t: TestApp;
      let run: Run;

      beforeAll(async () => {
        t = await start('enforce');
        run = await pump(t);
      }, 120_000);
      afterAll(() => t?.close(), 60_000);

      it('lets the sends through up to the threshold, then answers 429 PHONE-pump1ng with the rule', () => {
        expect(run.pumped.slice(0, PASSING).map((r) => r.status)).toEqual(Array(PASSING).fill(200));
        const refused = run.pumped.slice(PASSING);
        expect(refused.map((r) => r.status)).toEqual(Array(200 - PASSING).fill(429));
        const text = 'Too many codes sent to this destination were not verified, try again later';
        expect(refused[0].body).toMatchObject({ code: 8, message: `${text} (PHONE-pump1ng)` });
        expect(refused[0].body.details[0]).toEqual({ '@type': ERROR_DETAIL, id: 'PHONE-pump1ng', message: text });
        expect(refused[0].body.details.find((d: { '@type': string }) => d['@type'] === ERROR_INFO)).toEqual({
          '@type': ERROR_INFO,
          reason: BLOCK_REASON,
          domain: 'phone-verify',
          metadata: { rule: 'prefix_hourly' },
        });
      });

      it('queues nothing for a blocked send, and leaves the account as it was', async () => {
        expect(await outboxTo(t, PUMPED)).toBe(PASSING);
        const last = run.pumped.at(-1)!;
        const user = await t.http().get(`/v2/users/${last.userId}`).set(bearer(t.adminToken)).expect(200);
        expect(user.body.user.human.phone?.phone).not.toBe(last.phone);
      });

      it('records each block as an event with rule, country and prefix, never the number', async () => {
        let blocked = 0;
        for (const userId of run.users) {
          for (const event of await eventsOf(t, userId)) {
            if (event.type !== 'user.human.phone.code.send.blocked') continue;
            blocked++;
            expect(event.payload).toEqual({ rule: 'prefix_hourly', country: 'CH', prefix: '+4179555' });
          }
          const changed = (await eventsOf(t, userId)).filter((e) => e.type === 'user.human.phone.changed');
          expect(changed.length).toBeLessThanOrEqual(1);
        }
        expect(blocked).toBe(200 - PASSING);
      });

      it('leaves normal traffic to another country untouched', async () => {
        expect(run.normal).toHaveLength(10);
        expect(run.normal.map((n) => [n.set, n.verify])).toEqual(Array(10).fill([200, 200]));
      });

      it('always lets a number verified before through, also by another account', async () => {
        const { userId } = await createHuman(t);
        await post(t, `/v2/users/${userId}/phone`, PUMP_ADDRESS, { phone: VERIFIED_BEFORE, sendCode: {} }).expect(200);
        const another = PUMPED[0].replace(/0000$/, '8888');
        const { userId: other } = await createHuman(t);
        await post(t, `/v2/users/${other}/phone`, PUMP_ADDRESS, { phone: another, sendCode: {} }).expect(429);
      });

      it('blocks ResendPhoneCode to the prefix, and a new user whose code would go there (not created)', async () => {
        const admitted = run.pumped[0];
        const resend = await post(t, `/v2/users/${admitted.userId}/phone/resend`, PUMP_ADDRESS, { sendCode: {} });
        expect([resend.status, resend.body.details[0].id]).toEqual([429, 'PHONE-pump1ng']);
        const body = {
          username: 'pumped.signup',
          profile: { givenName: 'P', familyName: 'Q' },
          email: { email: 'pumped.signup@example.com', isVerified: true },
          phone: { phone: '+41795557777', sendCode: {} },
        };
        const created = await post(t, '/v2/users/human', PUMP_ADDRESS, body);
        expect([created.status, created.body.details[0].id]).toEqual([429, 'PHONE-pump1ng']);
        await post(t, '/v2/users/human', PUMP_ADDRESS, {
          ...body,
          phone: { phone: '+41795557777', returnCode: {} },
        }).expect(200);
      });

      it('refuses over gRPC with RESOURCE_EXHAUSTED and the same ErrorInfo', async () => {
        const { userId } = await createHuman(t);
        const clients = grpcClients(t);
        try {
          const error = await grpcUnary(
            clients,
            'UserService',
            'SetPhone',
            { userId, phone: '+41795558889', sendCode: {} },
            t.adminToken,
          ).then(
            () => undefined,
            (e: ServiceError) => e,
          );
          const result = grpcErrorResult(error!);
          expect(result).toMatchObject({ ok: false, code: 8 });
          expect(result.ok === false && result.details).toContainEqual(
            expect.objectContaining({ '@type': ERROR_INFO, reason: BLOCK_REASON }),
          );
        } finally {
          closeGrpcClients(clients);
        }
      });

      it('counts and logs the blocks', async () => {
        const samples = await scrape(t);
        const blocks = { name: 'pv_sms_fraud_decisions_total', labels: { mode: 'enforce', decision: 'block' } };
        expect(valueOf(samples, blocks.name, { ...blocks.labels, rule: 'prefix_hourly' })).toBeGreaterThanOrEqual(
          200 - PASSING + 1,
        );
        const warnings = decisionLines(t).filter((l) => l.smsFraud.decision === 'block');
        expect(warnings.length).toBeGreaterThanOrEqual(200 - PASSING);
        expect(warnings[0].smsFraud).toMatchObject({ mode: 'enforce', rule: 'prefix_hourly', prefix: '+4179555' });
        expect(decisionLines(t).filter((line) => FULL_NUMBER.test(JSON.stringify(line)))).toEqual([]);
      });
    });

    describe('record', () => {
      let t: TestApp;
      let run: Run;

      beforeAll(async () => {
        t = await start('record');
        run = await pump(t);
      }, 120_000);
      afterAll(() => t?.close(), 60_000);

      it('blocks nothing: all 200 sends succeed and are queued, normal traffic too', async () => {
        expect(run.pumped.map((r) => r.status)).toEqual(Array(200).fill(200));
        expect(await outboxTo(t, PUMPED)).toBe(200);
        expect(run.normal.map((n) => [n.set, n.verify])).toEqual(Array(10).fill([200, 200]));
        for (const userId of run.users) {
          const types = (await eventsOf(t, userId)).map((e) => e.type);
          expect(types).not.toContain('user.human.phone.code.send.blocked');
        }
      });

      it('logs every decision: one JSON line with rule, mode, country, prefix, counts and thresholds, never the number', () => {
        const lines = decisionLines(t);
        const flagged = lines.filter((l) => l.smsFraud.decision === 'flag');
        expect(flagged).toHaveLength(200 - PASSING);
        expect(flagged[0].smsFraud).toMatchObject({
          mode: 'record',
          rule: 'prefix_hourly',
          country: 'CH',
          prefix: '+4179555',
          measures: { prefix_hourly: { unverified: PASSING, threshold: 10 } },
        });
        const passed = lines.filter((l) => l.smsFraud.decision === 'pass');
        // the pumped sends below the threshold, the normal signups and the number verified first
        expect(passed).toHaveLength(PASSING + run.normal.length + 1);
        expect(lines.filter((line) => FULL_NUMBER.test(JSON.stringify(line)))).toEqual([]);
      });

      it('counts every decision by rule, mode and decision', async () => {
        const samples = await scrape(t);
        const name = 'pv_sms_fraud_decisions_total';
        expect(valueOf(samples, name, { rule: 'prefix_hourly', mode: 'record', decision: 'flag' })).toBe(200 - PASSING);
        expect(valueOf(samples, name, { rule: 'none', mode: 'record', decision: 'pass' })).toBe(
          PASSING + run.normal.length + 1,
        );
        expect(valueOf(samples, name, { mode: 'enforce', decision: 'block', rule: 'prefix_hourly' })).toBe(0);
      });
    });
  },
);
