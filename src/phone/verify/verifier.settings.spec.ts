import { validateEnvironment } from '../../app.config';

/** The message validateEnvironment throws, or undefined when the settings are accepted. */
function problemsOf(env: Record<string, string>): string | undefined {
  try {
    validateEnvironment(env);
    return undefined;
  } catch (error) {
    return (error as Error).message;
  }
}

describe('VerifierSettings', () => {
  const account = {
    TWILIO_ACCOUNT_SID: 'AC0123456789abcdef0123456789abcdef',
    TWILIO_AUTH_TOKEN: 'f0e1d2c3b4a5968778695a4b3c2d1e0f',
  };
  const service = { TWILIO_VERIFY_SERVICE_SID: 'VA0123456789abcdef0123456789abcdef' };
  const plivo = { PLIVO_AUTH_ID: 'MAZDQ1ZJIYMDZKMMZKYM', PLIVO_AUTH_TOKEN: 'p'.repeat(32) };

  it('is local by default and asks nothing more', () => {
    expect(validateEnvironment({}).verifier.verifier).toBe('local');
  });

  it('accepts Twilio Verify with a service SID and the Twilio account', () => {
    expect(problemsOf({ PHONE_VERIFIER: 'twilio-verify', ...account, ...service })).toBeUndefined();
  });

  it('refuses Twilio Verify without a service SID: one line naming it', () => {
    const message = problemsOf({ PHONE_VERIFIER: 'twilio-verify', ...account });
    expect(message).toContain('TWILIO_VERIFY_SERVICE_SID: required when PHONE_VERIFIER=twilio-verify');
    expect(message).not.toContain('TWILIO_ACCOUNT_SID');
  });

  it('refuses Twilio Verify without the Twilio account', () => {
    const message = problemsOf({ PHONE_VERIFIER: 'twilio-verify', ...service });
    expect(message).toContain('TWILIO_ACCOUNT_SID: required when PHONE_VERIFIER=twilio-verify');
    expect(message).toContain('TWILIO_AUTH_TOKEN: required when PHONE_VERIFIER=twilio-verify');
  });

  it('refuses Plivo Verify without its credentials, and accepts it with them', () => {
    const message = problemsOf({ PHONE_VERIFIER: 'plivo-verify' });
    expect(message).toContain('PLIVO_AUTH_ID: required when PHONE_VERIFIER=plivo-verify');
    expect(message).toContain('PLIVO_AUTH_TOKEN: required when PHONE_VERIFIER=plivo-verify');
    expect(problemsOf({ PHONE_VERIFIER: 'plivo-verify', ...plivo })).toBeUndefined();
  });

  it('refuses an unknown verifier, a malformed service SID and a timeout the outbox lease cannot cover', () => {
    expect(problemsOf({ PHONE_VERIFIER: 'vonage-verify' })).toContain('PHONE_VERIFIER');
    expect(problemsOf({ PHONE_VERIFIER: 'twilio-verify', ...account, TWILIO_VERIFY_SERVICE_SID: 'VA12' })).toContain(
      'TWILIO_VERIFY_SERVICE_SID',
    );
    const slow = { PHONE_VERIFIER: 'twilio-verify', ...account, ...service, TWILIO_VERIFY_TIMEOUT: '60s' };
    expect(problemsOf({ ...slow, SMS_SEND_LEASE: '30s' })).toContain('SMS_SEND_LEASE');
  });

  it('refuses a WhatsApp or voice sender of ours beside a delegated verifier: their codes would never verify', () => {
    const message = problemsOf({ PHONE_VERIFIER: 'plivo-verify', ...plivo, VOICE_PROVIDER: 'twilio' });
    expect(message).toContain('VOICE_PROVIDER: not used with PHONE_VERIFIER=plivo-verify');
  });
});
