import { createHmac } from 'node:crypto';
import { DependencyError } from '../../src/common/errors/dependency-error';
import { CaptchaVerifier } from '../../src/phone/presend/captcha-verifier';
import { SendContext, SendHook } from '../../src/phone/presend/send-hook';
import { deferred, FakeHttpServer, Received, Reply } from '../support/fake-http';
import { freePort } from '../support/test-app';

const SECRET = 'the-site-secret';

/**
 * Siteverify as each provider documents it: a form POST of secret, response and remoteip, answered
 * with `success` and, for reCAPTCHA v3 and hCaptcha Enterprise, a `score`.
 */
const ANSWERS: Record<string, Record<string, object>> = {
  turnstile: {
    good: { success: true, 'error-codes': [], challenge_ts: '2026-12-08T04:00:00Z', hostname: 'example.com' },
    bad: { success: false, 'error-codes': ['invalid-input-response'] },
  },
  hcaptcha: {
    good: { success: true, challenge_ts: '2026-12-08T04:00:00Z', hostname: 'example.com', score: 0.1 },
    // Enterprise's score is a risk: 0.9 is a likely bot
    low: { success: true, challenge_ts: '2026-12-08T04:00:00Z', hostname: 'example.com', score: 0.9 },
    bad: { success: false, 'error-codes': ['invalid-or-already-seen-response'] },
  },
  recaptcha: {
    good: { success: true, score: 0.9, action: 'phone', challenge_ts: '2026-12-08T04:00:00Z', hostname: 'example.com' },
    low: { success: true, score: 0.3, action: 'phone', challenge_ts: '2026-12-08T04:00:00Z', hostname: 'example.com' },
    bad: { success: false, 'error-codes': ['invalid-input-response'] },
  },
};

describe.each(['turnstile', 'hcaptcha', 'recaptcha'] as const)('CaptchaVerifier (%s)', (provider) => {
  const server = new FakeHttpServer();
  let answer: (request: Received) => Reply | Promise<Reply>;
  const verifier = () =>
    new CaptchaVerifier({ provider, secret: SECRET, minScore: 0.5, timeoutMs: 1_000, url: `${server.url}/siteverify` });

  beforeAll(async () => {
    await server.start();
    server.handler = (request) => answer(request);
  });
  afterAll(() => server.close());
  beforeEach(() => {
    answer = (request) => {
      const body = ANSWERS[provider][request.form.get('response') ?? ''] ?? ANSWERS[provider].bad;
      return { status: 200, body: JSON.stringify(body) };
    };
  });

  it('posts the secret, the token and the client address as a form', async () => {
    await expect(verifier().verify('good', '203.0.113.5')).resolves.toEqual({ ok: true });
    const request = server.requests.at(-1)!;
    expect(request.headers['content-type']).toBe('application/x-www-form-urlencoded');
    expect(Object.fromEntries(request.form)).toEqual({ secret: SECRET, response: 'good', remoteip: '203.0.113.5' });
  });

  it('leaves out an address the transport did not report', async () => {
    await verifier().verify('good', 'unknown');
    expect(server.requests.at(-1)!.form.has('remoteip')).toBe(false);
  });

  it('refuses a token the provider does not accept', async () => {
    await expect(verifier().verify('bad', '203.0.113.5')).resolves.toEqual({ ok: false, why: 'invalid' });
  });

  if (provider !== 'turnstile') {
    it('refuses a score beyond CAPTCHA_MIN_SCORE', async () => {
      await expect(verifier().verify('low', '203.0.113.5')).resolves.toEqual({ ok: false, why: 'score' });
    });
  }

  it('refuses a token longer than any provider issues without asking', async () => {
    const before = server.requests.length;
    await expect(verifier().verify('x'.repeat(5000), undefined)).resolves.toEqual({ ok: false, why: 'invalid' });
    expect(server.requests.length).toBe(before);
  });

  it('throws a DependencyError when siteverify is down, late or answers no JSON', async () => {
    answer = () => ({ status: 502, body: 'bad gateway' });
    await expect(verifier().verify('good', undefined)).rejects.toBeInstanceOf(DependencyError);
    answer = () => ({ status: 200, body: 'not json' });
    await expect(verifier().verify('good', undefined)).rejects.toBeInstanceOf(DependencyError);
    const held = deferred<Reply>();
    answer = () => held.promise;
    const late = new CaptchaVerifier({
      provider,
      secret: SECRET,
      minScore: 0.5,
      timeoutMs: 100,
      url: `${server.url}/s`,
    });
    await expect(late.verify('good', undefined)).rejects.toMatchObject({ dependency: 'captcha' });
    held.resolve({ status: 200 });
    const closed = new CaptchaVerifier({
      provider,
      secret: SECRET,
      minScore: 0.5,
      timeoutMs: 1_000,
      url: `http://127.0.0.1:${await freePort()}/siteverify`,
    });
    await expect(closed.verify('good', undefined)).rejects.toMatchObject({ dependency: 'captcha' });
  });
});

describe(SendHook.name, () => {
  const server = new FakeHttpServer();
  const secret = 'k'.repeat(40);
  const context: SendContext = {
    type: 'phone.code.send',
    time: '2026-12-08T04:00:00.000Z',
    use: 'set_phone',
    org: '1',
    user: '2',
    selfService: true,
    country: 'CH',
    prefix: '+4179123',
    clientAddress: '203.0.113.5',
  };
  beforeAll(() => server.start());
  afterAll(() => server.close());

  it('signs "<t>.<body>" with HMAC-SHA-256 in ZITADEL-Signature and reads the answer', async () => {
    server.handler = () => ({ status: 200, body: '{"action":"allow","channel":"whatsapp"}' });
    const hook = new SendHook({ url: `${server.url}/hook`, secret, timeoutMs: 1_000 });
    await expect(hook.ask(context, 1_765_166_400)).resolves.toEqual({ action: 'allow', channel: 'whatsapp' });
    const request = server.requests.at(-1)!;
    const expected = createHmac('sha256', secret).update(`1765166400.${request.raw}`).digest('hex');
    expect(request.headers['zitadel-signature']).toBe(`t=1765166400,v1=${expected}`);
    expect(request.json).toEqual(context);
  });

  it('throws a DependencyError for an answer that is not 2xx, too long, or late', async () => {
    const hook = new SendHook({ url: `${server.url}/hook`, secret, timeoutMs: 200 });
    server.handler = () => ({ status: 302, body: '{}' });
    await expect(hook.ask(context, 1)).rejects.toMatchObject({ dependency: 'send_hook' });
    server.handler = () => ({ status: 200, body: JSON.stringify({ action: 'allow', pad: 'x'.repeat(5000) }) });
    await expect(hook.ask(context, 1)).rejects.toMatchObject({ dependency: 'send_hook' });
    const held = deferred<Reply>();
    server.handler = () => held.promise;
    await expect(hook.ask(context, 1)).rejects.toMatchObject({ dependency: 'send_hook' });
    held.resolve({ status: 200 });
  });
});
