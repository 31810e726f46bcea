import { createHmac } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { eventsOf } from './support/events';
import { createHuman, createMachineWithToken, createOrg, randomMobile } from './support/factories';
import { deferred, FakeHttpServer, Received, Reply } from './support/fake-http';
import { outboxCount } from './support/outbox';
import { jwtIssuer, phoneApi, startPhoneApp } from './support/phone-api';
import { scrape, valueOf } from './support/prometheus';
import { bearer, DATABASES, freePort, TestApp } from './support/test-app';
import { CallResult, TRANSPORTS, transportCaller } from './support/transports';
import { ERROR_INFO } from './support/wire';

jest.setTimeout(120_000);

const HOOK_SECRET = 'hook-secret-0123456789abcdef0123456789';
const CAPTCHA_SECRET = 'captcha-secret-of-the-site';
const BLOCKED = 'user.human.phone.code.send.blocked';
const json = (body: object): Reply => ({ status: 200, body: JSON.stringify(body) });

/**
 * Siteverify as each provider documents it, by token: good, low (a reCAPTCHA score of 0.1, an
 * hCaptcha Enterprise risk score of 0.9), bad, or down (the connection cut).
 */
function siteverifyAnswer(request: Received): Reply | Promise<Reply> {
  const token = request.form.get('response');
  if (request.form.get('secret') !== CAPTCHA_SECRET) return { status: 200, body: '{"success":false}' };
  if (token === 'down') return Promise.reject(new Error('down'));
  // Turnstile has no score; hCaptcha Enterprise's is a risk, reCAPTCHA v3's a confidence
  const scores = request.path.startsWith('/hcaptcha') ? { good: 0.1, low: 0.9 } : { good: 0.9, low: 0.1 };
  const scored = !request.path.startsWith('/turnstile');
  if (token === 'good' || token === 'low') {
    return json({ success: true, hostname: 'example.com', ...(scored ? { score: scores[token] } : {}) });
  }
  return { status: 200, body: JSON.stringify({ success: false, 'error-codes': ['invalid-input-response'] }) };
}

const infoOf = (result: CallResult) => (result.ok ? undefined : result.details.find((d) => d['@type'] === ERROR_INFO));

describe.each(DATABASES)('pre-send checks (%s)', (db) => {
  const siteverify = new FakeHttpServer();
  const hook = new FakeHttpServer();
  /** what the hook answers next; a test sets it */
  let hookAnswer: (request: Received) => Reply | Promise<Reply> = () => json({ action: 'allow' });
  let dir: string;
  let issuer: Awaited<ReturnType<typeof jwtIssuer>>;

  beforeAll(async () => {
    await siteverify.start();
    await hook.start();
    siteverify.handler = siteverifyAnswer;
    hook.handler = (request) => hookAnswer(request);
    dir = mkdtempSync(join(tmpdir(), 'pv-presend-'));
    issuer = await jwtIssuer(dir);
  }, 60_000);
  afterAll(async () => {
    await siteverify.close();
    await hook.close();
    rmSync(dir, { recursive: true, force: true });
  }, 60_000);
  beforeEach(() => {
    hookAnswer = () => json({ action: 'allow' });
  });

  const hookCallsFor = (userId: string) => hook.requests.filter((r) => r.json.user === userId);

  describe('reCAPTCHA for self-service, a hook that fails closed', () => {
    let t: TestApp;
    let orgId: string;

    beforeAll(async () => {
      t = await startPhoneApp(db, {
        ...issuer.env,
        CAPTCHA_PROVIDER: 'recaptcha',
        CAPTCHA_SECRET,
        CAPTCHA_VERIFY_URL: `${siteverify.url}/recaptcha/api/siteverify`,
        SEND_HOOK_URL: `${hook.url}/send`,
        SEND_HOOK_SECRET: HOOK_SECRET,
        SEND_HOOK_TIMEOUT: '300ms',
        SEND_HOOK_ON_TIMEOUT: 'fail-closed',
        // one SMS per user and hour: a refusal that counted would leave no send for the next call
        SMS_MAX_PER_USER_PER_HOUR: '1',
        METRICS_PORT: String(await freePort()),
      });
      orgId = await createOrg(t);
    }, 60_000);
    afterAll(() => t?.close(), 60_000);

    /** A human and its own access token. */
    async function selfService() {
      const { userId } = await createHuman(t, { orgId });
      return { userId, token: await issuer.sign(userId) };
    }

    describe.each(TRANSPORTS)('over %s', (transport) => {
      const setPhone = async (userId: string, token: string, headers: Record<string, string> = {}) => {
        const caller = transportCaller(t, transport);
        try {
          return await caller.call(
            'UserService',
            'SetPhone',
            { userId, phone: randomMobile(), sendCode: {} },
            token,
            headers,
          );
        } finally {
          caller.close();
        }
      };

      it('answers a self-service send without a token 400 CAPTCHA_REQUIRED, writing nothing and asking no hook', async () => {
        const { userId, token } = await selfService();
        const before = await eventsOf(t, userId);
        const result = await setPhone(userId, token);
        expect(result).toMatchObject({ ok: false, code: 3 });
        expect(infoOf(result)).toMatchObject({ reason: 'CAPTCHA_REQUIRED', metadata: { header: 'x-captcha-token' } });
        expect(await eventsOf(t, userId)).toEqual(before);
        expect(await outboxCount(t, userId)).toBe(0);
        expect(hookCallsFor(userId)).toEqual([]);
      });

      it('refuses a token siteverify rejects with 403 CAPTCHA_FAILED and commits only the block event', async () => {
        const { userId, token } = await selfService();
        const before = await eventsOf(t, userId);
        const result = await setPhone(userId, token, { 'x-captcha-token': 'bad' });
        expect(result).toMatchObject({ ok: false, code: 7 });
        expect(infoOf(result)).toMatchObject({
          reason: 'CAPTCHA_FAILED',
          metadata: { why: 'invalid', provider: 'recaptcha' },
        });
        const after = await eventsOf(t, userId);
        expect(after.slice(before.length).map((e) => [e.type, e.payload])).toEqual([
          [
            BLOCKED,
            { rule: 'captcha', reason: 'invalid', country: 'CH', prefix: expect.stringMatching(/^\+4179\d{3}$/) },
          ],
        ]);
        expect(await outboxCount(t, userId)).toBe(0);
        expect(hookCallsFor(userId)).toEqual([]);
      });

      it('sends after a good token and the hook allowing it; the hook got the signed context', async () => {
        const { userId, token } = await selfService();
        const result = await setPhone(userId, token, {
          'x-captcha-token': 'good',
          'x-request-id': `presend-${transport}`,
        });
        expect(result.ok).toBe(true);
        expect(await outboxCount(t, userId)).toBe(1);
        const [call] = hookCallsFor(userId);
        const [, stamp, mac] = /^t=(\d+),v1=([0-9a-f]{64})$/.exec(String(call.headers['zitadel-signature']))!;
        expect(mac).toBe(createHmac('sha256', HOOK_SECRET).update(`${stamp}.${call.raw}`).digest('hex'));
        expect(call.json).toMatchObject({
          type: 'phone.code.send',
          use: 'set_phone',
          org: orgId,
          user: userId,
          selfService: true,
          country: 'CH',
          prefix: expect.stringMatching(/^\+4179\d{3}$/),
          clientAddress: expect.any(String),
          fraud: {
            mode: 'record',
            hits: expect.any(Array),
            measures: expect.objectContaining({ prefix_daily: expect.any(Object) }),
          },
        });
        expect(call.raw).not.toMatch(/\+4179\d{7}/);
      });

      it("answers the hook's deny 403 SEND_HOOK_DENIED with its reason; a later allowed send is not limited by it", async () => {
        const { userId, token } = await selfService();
        hookAnswer = () => json({ action: 'deny', reason: 'high risk\nscore' });
        const denied = await setPhone(userId, token, { 'x-captcha-token': 'good' });
        expect(denied).toMatchObject({ ok: false, code: 7 });
        expect(infoOf(denied)).toMatchObject({ reason: 'SEND_HOOK_DENIED', metadata: { reason: 'high risk score' } });
        const events = await eventsOf(t, userId);
        expect(events.at(-1)).toMatchObject({
          type: BLOCKED,
          payload: { rule: 'send_hook', reason: 'high risk score' },
        });
        expect(await outboxCount(t, userId)).toBe(0);

        hookAnswer = () => json({ action: 'allow' });
        expect((await setPhone(userId, token, { 'x-captcha-token': 'good' })).ok).toBe(true);
        expect(await outboxCount(t, userId)).toBe(1);
      });
    });

    const set = (token: string, userId: string, captcha?: string) => {
      const req = t.http().post(`/v2/users/${userId}/phone`).set(bearer(token));
      if (captcha) req.set('x-captcha-token', captcha);
      return req.send({ phone: randomMobile(), sendCode: {} });
    };

    it('refuses a reCAPTCHA score under CAPTCHA_MIN_SCORE with 403 (why: score)', async () => {
      const { userId, token } = await selfService();
      const res = await set(token, userId, 'low');
      expect(res.status).toBe(403);
      expect(res.body.details).toContainEqual(
        expect.objectContaining({
          '@type': ERROR_INFO,
          reason: 'CAPTCHA_FAILED',
          metadata: { why: 'score', provider: 'recaptcha' },
        }),
      );
      expect((await eventsOf(t, userId)).at(-1)).toMatchObject({
        type: BLOCKED,
        payload: { rule: 'captcha', reason: 'score' },
      });
    });

    it('answers 503 UNAVAILABLE when siteverify cannot answer, writing nothing', async () => {
      const { userId, token } = await selfService();
      const before = await eventsOf(t, userId);
      const res = await set(token, userId, 'down');
      expect(res.status).toBe(503);
      expect(res.body.code).toBe(14);
      expect(await eventsOf(t, userId)).toEqual(before);
      expect(await outboxCount(t, userId)).toBe(0);
    });

    it('asks no CAPTCHA of an administrator (CAPTCHA_REQUIRED_FOR=self), and tells the hook it is not self-service', async () => {
      const { userId } = await createHuman(t, { orgId });
      const manager = await createMachineWithToken(t, orgId, [{ scope: orgId, role: 'ORG_USER_MANAGER' }]);
      expect((await set(manager.token, userId)).status).toBe(200);
      expect(hookCallsFor(userId).map((r) => r.json.selfService)).toEqual([false]);
    });

    it('checks a token an administrator sends, though none is required of it', async () => {
      const { userId } = await createHuman(t, { orgId });
      expect((await set(t.adminToken, userId, 'bad')).status).toBe(403);
    });

    it('never checks return_code or is_verified (no text is sent)', async () => {
      const { userId } = await createHuman(t, { orgId });
      const api = phoneApi(t);
      expect((await api.set(userId, { phone: randomMobile(), returnCode: {} })).status).toBe(200);
      expect((await api.set(userId, { phone: randomMobile(), isVerified: true })).status).toBe(200);
      expect(hookCallsFor(userId)).toEqual([]);
    });

    it("answers a hook's deny with retryAfterSeconds 429 with Retry-After", async () => {
      const { userId, token } = await selfService();
      hookAnswer = () => json({ action: 'deny', reason: 'slow down', retryAfterSeconds: 90 });
      const res = await set(token, userId, 'good');
      expect(res.status).toBe(429);
      expect(res.headers['retry-after']).toBe('90');
      expect(res.body.details).toContainEqual(
        expect.objectContaining({
          reason: 'SEND_HOOK_DENIED',
          metadata: { reason: 'slow down', retryAfterSeconds: '90' },
        }),
      );
    });

    it("takes the hook's channel; a channel it does not know is a hook fault (503 when failing closed)", async () => {
      const { userId, token } = await selfService();
      hookAnswer = () => json({ action: 'allow', channel: 'fax' });
      expect((await set(token, userId, 'good')).status).toBe(503);
      hookAnswer = () => json({ action: 'allow', channel: 'voice' });
      expect((await set(token, userId, 'good')).status).toBe(200);
      expect(await outboxCount(t, userId)).toBe(1);
    });

    it('fails closed when the hook is late or down: 503, nothing written', async () => {
      const { userId, token } = await selfService();
      const before = await eventsOf(t, userId);
      const held = deferred<Reply>();
      hookAnswer = () => held.promise;
      expect((await set(token, userId, 'good')).status).toBe(503);
      held.resolve(json({ action: 'allow' }));
      hookAnswer = () => Promise.reject(new Error('down'));
      expect((await set(token, userId, 'good')).status).toBe(503);
      hookAnswer = () => ({ status: 500, body: '{}' });
      expect((await set(token, userId, 'good')).status).toBe(503);
      expect(await eventsOf(t, userId)).toEqual(before);
      expect(await outboxCount(t, userId)).toBe(0);
    });

    it('checks ResendPhoneCode too: its refusal is an event and counts nothing', async () => {
      const { userId } = await createHuman(t, { orgId, phone: randomMobile(), phoneMode: 'returnCode' });
      const token = await issuer.sign(userId);
      const resend = (captcha?: string) => {
        const req = t.http().post(`/v2/users/${userId}/phone/resend`).set(bearer(token));
        if (captcha) req.set('x-captcha-token', captcha);
        return req.send({ sendCode: {} });
      };
      expect((await resend()).status).toBe(400);
      hookAnswer = () => json({ action: 'deny', reason: 'no' });
      expect((await resend('good')).status).toBe(403);
      expect((await eventsOf(t, userId)).at(-1)).toMatchObject({ type: BLOCKED, payload: { rule: 'send_hook' } });
      expect(hookCallsFor(userId).map((r) => r.json.use)).toEqual(['resend_code']);
      hookAnswer = () => json({ action: 'allow' });
      expect((await resend('good')).status).toBe(200);
      expect(await outboxCount(t, userId)).toBe(1);
    });

    it('counts the checks by outcome', async () => {
      const samples = await scrape(t);
      const count = (check: string, outcome: string) => valueOf(samples, 'pv_presend_checks_total', { check, outcome });
      expect(count('captcha', 'missing')).toBeGreaterThanOrEqual(4);
      expect(count('captcha', 'invalid')).toBeGreaterThanOrEqual(4);
      expect(count('captcha', 'score')).toBeGreaterThanOrEqual(1);
      expect(count('captcha', 'unavailable')).toBeGreaterThanOrEqual(1);
      expect(count('captcha', 'pass')).toBeGreaterThanOrEqual(8);
      expect(count('send_hook', 'deny')).toBeGreaterThanOrEqual(4);
      expect(count('send_hook', 'rate')).toBeGreaterThanOrEqual(1);
      expect(count('send_hook', 'channel')).toBeGreaterThanOrEqual(1);
      expect(count('send_hook', 'failed_closed')).toBeGreaterThanOrEqual(4);
    });

    it('a CAPTCHA refusal is not kept under an Idempotency-Key: the retry with a good token sends, once', async () => {
      const { userId, token } = await selfService();
      const body = { phone: randomMobile(), sendCode: {} };
      const send = (captcha: string) =>
        t
          .http()
          .post(`/v2/users/${userId}/phone`)
          .set({ authorization: `Bearer ${token}`, 'idempotency-key': `retry-${userId}`, 'x-captcha-token': captcha })
          .send(body);
      expect((await send('bad')).status).toBe(403);
      const sent = await send('good');
      const repeat = await send('good');
      expect([sent.status, repeat.status, repeat.headers['idempotent-replayed']]).toEqual([200, 200, 'true']);
      expect(repeat.body).toEqual(sent.body);
      expect(await outboxCount(t, userId)).toBe(1);
    });
  });

  describe('hCaptcha alone, for self-service', () => {
    let t: TestApp;
    let orgId: string;

    beforeAll(async () => {
      t = await startPhoneApp(db, {
        ...issuer.env,
        CAPTCHA_PROVIDER: 'hcaptcha',
        CAPTCHA_SECRET,
        CAPTCHA_VERIFY_URL: `${siteverify.url}/hcaptcha/siteverify`,
        CAPTCHA_MIN_SCORE: '0.5',
      });
      orgId = await createOrg(t);
    }, 60_000);
    afterAll(() => t?.close(), 60_000);

    it('sends with a good token, refuses a bad one or a risky score (403), answers 503 when siteverify is down', async () => {
      const statuses: Record<string, number> = {};
      for (const captcha of ['good', 'bad', 'low', 'down']) {
        const { userId } = await createHuman(t, { orgId });
        const res = await t
          .http()
          .post(`/v2/users/${userId}/phone`)
          .set(bearer(await issuer.sign(userId)))
          .set('x-captcha-token', captcha)
          .send({ phone: randomMobile(), sendCode: {} });
        statuses[captcha] = res.status;
        expect(await outboxCount(t, userId)).toBe(res.status === 200 ? 1 : 0);
        const blocked = (await eventsOf(t, userId)).filter((e) => e.type === BLOCKED).map((e) => e.payload.reason);
        expect(blocked).toEqual(res.status === 403 ? [captcha === 'low' ? 'score' : 'invalid'] : []);
      }
      expect(statuses).toEqual({ good: 200, bad: 403, low: 403, down: 503 });
    });
  });

  describe('Turnstile for every caller, a hook that fails open', () => {
    let t: TestApp;
    let orgId: string;

    beforeAll(async () => {
      t = await startPhoneApp(db, {
        CAPTCHA_PROVIDER: 'turnstile',
        CAPTCHA_SECRET,
        CAPTCHA_VERIFY_URL: `${siteverify.url}/turnstile/v0/siteverify`,
        CAPTCHA_REQUIRED_FOR: 'all',
        SEND_HOOK_URL: `${hook.url}/send`,
        SEND_HOOK_SECRET: HOOK_SECRET,
        SEND_HOOK_TIMEOUT: '300ms',
        SEND_HOOK_ON_TIMEOUT: 'fail-open',
      });
      orgId = await createOrg(t);
    }, 60_000);
    afterAll(() => t?.close(), 60_000);

    const set = (userId: string, captcha?: string) => {
      const req = t.http().post(`/v2/users/${userId}/phone`).set(bearer(t.adminToken));
      if (captcha) req.set('x-captcha-token', captcha);
      return req.send({ phone: randomMobile(), sendCode: {} });
    };

    it('asks a token of an administrator too (CAPTCHA_REQUIRED_FOR=all)', async () => {
      const { userId } = await createHuman(t, { orgId });
      const res = await set(userId);
      expect(res.status).toBe(400);
      expect(res.body.details).toContainEqual(expect.objectContaining({ reason: 'CAPTCHA_REQUIRED' }));
      expect((await set(userId, 'good')).status).toBe(200);
    });

    it('sends when the hook is late, down or answers nonsense', async () => {
      const user = async () => (await createHuman(t, { orgId })).userId;
      const held = deferred<Reply>();
      hookAnswer = () => held.promise;
      const late = await user();
      expect((await set(late, 'good')).status).toBe(200);
      held.resolve(json({ action: 'deny' }));
      hookAnswer = () => Promise.reject(new Error('down'));
      const down = await user();
      expect((await set(down, 'good')).status).toBe(200);
      hookAnswer = () => ({ status: 200, body: 'no json' });
      const nonsense = await user();
      expect((await set(nonsense, 'good')).status).toBe(200);
      for (const userId of [late, down, nonsense]) {
        expect(await outboxCount(t, userId)).toBe(1);
        expect((await eventsOf(t, userId)).filter((e) => e.type === BLOCKED)).toEqual([]);
      }
    });
  });
});
