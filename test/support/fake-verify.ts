import { randomBytes, randomInt, randomUUID } from 'node:crypto';
import { FakeHttpServer, Received, Reply } from './fake-http';

/** One verification a fake provider started: the code it "sent", and what was asked of it since. */
export interface FakeVerification {
  id: string;
  to: string;
  channel: string;
  code: string;
  status: 'pending' | 'approved' | 'expired';
  checks: number;
  locale?: string;
}

const json = (status: number, body: object): Reply => ({ status, body: JSON.stringify(body) });

/** What both fakes share: Basic auth, the verifications, an outage switch, the checks seen. */
abstract class FakeVerifyApi extends FakeHttpServer {
  readonly verifications: FakeVerification[] = [];
  /** the checks (VerificationCheck / validate) received, in order */
  readonly checks: Received[] = [];
  /** answers every request with 503 while set */
  down = false;
  /** overrides the answer to a check */
  checkAnswer?: (verification: FakeVerification | undefined) => Reply | undefined;

  constructor(
    private readonly user: string,
    private readonly password: string,
  ) {
    super();
    this.handler = (r) => {
      if (r.headers.authorization !== `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`) {
        return this.unauthorized();
      }
      if (this.down) return json(503, { message: 'Service Unavailable' });
      return this.route(r);
    };
  }

  /** The verifications started for a number. */
  to(phone: string): FakeVerification[] {
    return this.verifications.filter((v) => v.to === phone);
  }

  /** The provider's verification of `phone` runs out (its own lifetime, 10 minutes at Twilio). */
  expire(phone: string): void {
    for (const v of this.to(phone)) if (v.status === 'pending') v.status = 'expired';
  }

  protected pendingFor(to: string): FakeVerification | undefined {
    return this.verifications.find((v) => v.to === to && v.status === 'pending');
  }

  protected newVerification(id: string, to: string, channel: string, locale?: string): FakeVerification {
    const verification: FakeVerification = {
      id,
      to,
      channel,
      code: String(randomInt(1_000_000)).padStart(6, '0'),
      status: 'pending',
      checks: 0,
      locale,
    };
    this.verifications.push(verification);
    return verification;
  }

  protected abstract unauthorized(): Reply;
  protected abstract route(r: Received): Reply;
}

/**
 * Twilio Verify v2 on 127.0.0.1, after its public reference: Verifications starts (a pending
 * verification of the same number is reused and its code sent again), VerificationCheck answers
 * 200 with status approved or pending (a wrong code), 404 / 20404 without a pending verification,
 * 429 / 60202 after 5 checks.
 */
export class FakeTwilioVerify extends FakeVerifyApi {
  static readonly MAX_CHECKS = 5;

  constructor(
    readonly accountSid: string,
    authToken: string,
    readonly serviceSid: string,
  ) {
    super(accountSid, authToken);
  }

  protected unauthorized(): Reply {
    return json(401, { code: 20003, message: 'Authenticate', status: 401 });
  }

  protected route(r: Received): Reply {
    const base = `/v2/Services/${this.serviceSid}`;
    if (r.method === 'POST' && r.path === `${base}/Verifications`) return this.startVerification(r);
    if (r.method === 'POST' && r.path === `${base}/VerificationCheck`) return this.check(r);
    return json(404, { code: 20404, message: 'The requested resource was not found', status: 404 });
  }

  private startVerification(r: Received): Reply {
    const to = r.form.get('To') ?? '';
    const channel = r.form.get('Channel') ?? '';
    if (!/^\+[1-9]\d{6,14}$/.test(to) || !['sms', 'call', 'whatsapp'].includes(channel)) {
      return json(400, { code: 60200, message: 'Invalid parameter', status: 400 });
    }
    const verification =
      this.pendingFor(to) ??
      this.newVerification(`VE${randomBytes(16).toString('hex')}`, to, channel, r.form.get('Locale') ?? undefined);
    return json(201, this.resource(verification));
  }

  private check(r: Received): Reply {
    this.checks.push(r);
    const sid = r.form.get('VerificationSid');
    const to = r.form.get('To');
    const verification = this.verifications.find((v) => (sid ? v.id === sid : v.to === to && v.status === 'pending'));
    const override = this.checkAnswer?.(verification);
    if (override) return override;
    if (!verification || verification.status !== 'pending') {
      return json(404, { code: 20404, message: 'The requested resource was not found', status: 404 });
    }
    if (verification.checks >= FakeTwilioVerify.MAX_CHECKS) {
      return json(429, { code: 60202, message: 'Max check attempts reached', status: 429 });
    }
    verification.checks++;
    if (r.form.get('Code') === verification.code) verification.status = 'approved';
    return json(200, this.resource(verification));
  }

  private resource(v: FakeVerification): object {
    return {
      sid: v.id,
      service_sid: this.serviceSid,
      account_sid: this.accountSid,
      to: v.to,
      channel: v.channel,
      status: v.status,
      valid: v.status === 'approved',
    };
  }
}

/**
 * Plivo Verify on 127.0.0.1, after its public reference: POST …/Verify/Session/ starts a session
 * (202, session_uuid), POST …/Verify/Session/{uuid}/ with `otp` validates it (200). Plivo
 * documents no error bodies for a refused OTP: the fake answers 400 with an `error` text, and 404
 * for an unknown session.
 */
export class FakePlivoVerify extends FakeVerifyApi {
  static readonly MAX_CHECKS = 3;

  constructor(
    readonly authId: string,
    authToken: string,
  ) {
    super(authId, authToken);
  }

  protected unauthorized(): Reply {
    return json(401, { api_id: randomUUID(), error: 'authentication failed' });
  }

  protected route(r: Received): Reply {
    const sessions = `/v1/Account/${this.authId}/Verify/Session/`;
    if (r.method === 'POST' && r.path === sessions) return this.startVerification(r);
    const uuid = r.method === 'POST' && r.path.startsWith(sessions) ? r.path.slice(sessions.length, -1) : undefined;
    if (uuid) return this.validate(uuid, r);
    return json(404, { api_id: randomUUID(), error: 'not found' });
  }

  private startVerification(r: Received): Reply {
    const { recipient, channel, locale } = r.json as Record<string, string | undefined>;
    if (!recipient || !['sms', 'voice'].includes(channel ?? '')) {
      return json(400, { api_id: randomUUID(), error: 'invalid recipient or channel' });
    }
    const session = this.newVerification(randomUUID(), recipient, channel!, locale);
    return json(202, { api_id: randomUUID(), message: 'Session initiated', session_uuid: session.id });
  }

  private validate(uuid: string, r: Received): Reply {
    this.checks.push(r);
    const session = this.verifications.find((v) => v.id === uuid);
    const override = this.checkAnswer?.(session);
    if (override) return override;
    if (!session) return json(404, { api_id: randomUUID(), error: 'session not found' });
    if (session.status === 'expired') return json(400, { api_id: randomUUID(), error: 'session expired' });
    if (session.status !== 'pending') return json(400, { api_id: randomUUID(), error: 'session already validated' });
    if (session.checks >= FakePlivoVerify.MAX_CHECKS) {
      return json(400, { api_id: randomUUID(), error: 'maximum attempts reached' });
    }
    session.checks++;
    if (r.json.otp !== session.code) return json(400, { api_id: randomUUID(), error: 'Invalid OTP' });
    session.status = 'approved';
    return json(200, { api_id: randomUUID(), message: 'session validated successfully.' });
  }
}
