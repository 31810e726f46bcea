import { unitConfig } from '../../../test/support/fakes/config';
import { captchaRequired } from './pre-send-checks';
import { readAnswer, sanitizedReason } from './send-hook';

describe('captchaRequired', () => {
  it('asks only a user acting on itself by default (self)', () => {
    expect(captchaRequired('self', true)).toBe(true);
    expect(captchaRequired('self', false)).toBe(false);
  });

  it('asks every caller with all, and none with none', () => {
    expect([captchaRequired('all', true), captchaRequired('all', false)]).toEqual([true, true]);
    expect([captchaRequired('none', true), captchaRequired('none', false)]).toEqual([false, false]);
  });
});

describe('readAnswer', () => {
  it('reads allow, with or without a channel of CHANNELS', () => {
    expect(readAnswer({ action: 'allow' })).toEqual({ action: 'allow' });
    expect(readAnswer({ action: 'allow', channel: 'voice' })).toEqual({ action: 'allow', channel: 'voice' });
    expect(readAnswer({ action: 'allow', channel: null })).toEqual({ action: 'allow' });
  });

  it('refuses a channel outside CHANNELS as a fault of the hook', () => {
    expect(() => readAnswer({ action: 'allow', channel: 'fax' })).toThrow(/unknown channel/);
    expect(() => readAnswer({ action: 'allow', channel: 3 })).toThrow(/unknown channel/);
  });

  it('reads deny with its reason, and a retry hint as a rate limit capped at a day', () => {
    expect(readAnswer({ action: 'deny', reason: 'risky' })).toEqual({ action: 'deny', reason: 'risky' });
    expect(readAnswer({ action: 'deny', reason: 'wait', retryAfterSeconds: 1.2 })).toEqual({
      action: 'deny',
      reason: 'wait',
      retryAfterMs: 2_000,
    });
    expect(readAnswer({ action: 'deny', retryAfterSeconds: 10 ** 9 })).toMatchObject({ retryAfterMs: 86_400_000 });
  });

  it('refuses anything else as a fault of the hook', () => {
    for (const body of [null, 'allow', [], {}, { action: 'maybe' }, { action: 'deny', retryAfterSeconds: -1 }]) {
      expect(() => readAnswer(body)).toThrow();
    }
    expect(() => readAnswer({ action: 'deny', retryAfterSeconds: '60' })).toThrow(/retryAfterSeconds/);
  });
});

describe('sanitizedReason', () => {
  it('keeps printable text on one line', () => {
    expect(sanitizedReason('too\nmany\u0000 sends\u2028here')).toBe('too many sends here');
  });

  it('says "denied" for no reason, an empty one or one that is not text', () => {
    expect([sanitizedReason(undefined), sanitizedReason('  \n'), sanitizedReason(42)]).toEqual([
      'denied',
      'denied',
      'denied',
    ]);
  });

  it('bounds the reason to 160 bytes of UTF-8', () => {
    const reason = sanitizedReason('é'.repeat(500));
    expect(Buffer.byteLength(reason)).toBeLessThanOrEqual(160);
    expect(reason.endsWith('…')).toBe(true);
  });
});

describe('PreSendSettings', () => {
  const problemsOf = (env: Record<string, string>) => {
    try {
      unitConfig(env);
      return [];
    } catch (error) {
      return (error as { problems?: string[] }).problems ?? [String(error)];
    }
  };

  it('needs the secret of a provider and of a hook', () => {
    expect(problemsOf({ CAPTCHA_PROVIDER: 'hcaptcha' })).toContain(
      'CAPTCHA_SECRET: required when CAPTCHA_PROVIDER is set',
    );
    expect(problemsOf({ SEND_HOOK_URL: 'http://127.0.0.1:9/hook' })).toContain(
      'SEND_HOOK_SECRET: required when SEND_HOOK_URL is set',
    );
  });

  it('fails closed by default in production, open elsewhere, as SEND_HOOK_ON_TIMEOUT says when set', () => {
    const settings = unitConfig().presend;
    expect([settings.hookFailure(true), settings.hookFailure(false)]).toEqual(['fail-closed', 'fail-open']);
    expect(unitConfig({ SEND_HOOK_ON_TIMEOUT: 'fail-open' }).presend.hookFailure(true)).toBe('fail-open');
  });

  it('wants https:// hook and siteverify URLs in production', () => {
    const problems = problemsOf({
      NODE_ENV: 'production',
      SEND_HOOK_URL: 'http://hooks.example/send',
      SEND_HOOK_SECRET: 'x'.repeat(32),
      CAPTCHA_PROVIDER: 'turnstile',
      CAPTCHA_SECRET: 's',
      CAPTCHA_VERIFY_URL: 'http://captcha.example/siteverify',
    });
    expect(problems).toEqual(
      expect.arrayContaining([
        'SEND_HOOK_URL: must be https:// when NODE_ENV=production',
        'CAPTCHA_VERIFY_URL: must be https:// when NODE_ENV=production',
      ]),
    );
  });
});
