import { createHash, createHmac, generateKeyPairSync, randomBytes, randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FakeMeta, FakeTwilioApi, FakeVonageVoice } from './fake-channels';
import { Db, startApp, TestApp } from './test-app';

/**
 * The real app sending WhatsApp and voice through a fake Twilio account with fresh credentials,
 * started in beforeAll and closed in afterAll; `env` adds to (or overrides) its settings.
 */
export function twilioChannelsApp(
  db: Db,
  env: Record<string, string>,
): { sid: string; token: string; twilio: FakeTwilioApi; app: () => TestApp } {
  const sid = `AC${randomBytes(16).toString('hex')}`;
  const token = randomBytes(16).toString('hex');
  const twilio = new FakeTwilioApi(sid, token);
  let t: TestApp;
  beforeAll(async () => {
    await twilio.start();
    t = await startApp(db, {
      TWILIO_BASE_URL: twilio.url,
      TWILIO_ACCOUNT_SID: sid,
      TWILIO_AUTH_TOKEN: token,
      WHATSAPP_PROVIDER: 'twilio',
      TWILIO_WHATSAPP_FROM: '+15005550006',
      VOICE_PROVIDER: 'twilio',
      TWILIO_VOICE_FROM: '+15005550007',
      ...env,
    });
  }, 60_000);
  afterAll(async () => {
    await t?.close();
    await twilio.close();
  }, 60_000);
  return { sid, token, twilio, app: () => t };
}

const PHONE_NUMBER_ID = '106540352242922';

/**
 * Fake Meta Graph and Vonage Voice APIs with fresh credentials (and Vonage's private key in a
 * file), and the settings that send WhatsApp through the one and voice through the other.
 */
export class MetaAndVonage {
  readonly token = `EAAG${randomBytes(24).toString('hex')}`;
  readonly appSecret = randomBytes(16).toString('hex');
  readonly signatureSecret = randomBytes(16).toString('hex');
  readonly application = randomUUID();
  private readonly keys = generateKeyPairSync('rsa', { modulusLength: 2048 });
  readonly meta = new FakeMeta('v21.0', PHONE_NUMBER_ID, this.token);
  readonly vonage = new FakeVonageVoice(
    this.application,
    this.keys.publicKey.export({ type: 'spki', format: 'pem' }).toString(),
  );
  readonly dir = mkdtempSync(join(tmpdir(), 'pv-channels-'));
  readonly keyFile = join(this.dir, 'private.key');

  async start(): Promise<void> {
    writeFileSync(this.keyFile, this.keys.privateKey.export({ type: 'pkcs8', format: 'pem' }), { mode: 0o600 });
    await Promise.all([this.meta.start(), this.vonage.start()]);
  }

  async close(): Promise<void> {
    await Promise.all([this.meta.close(), this.vonage.close()]);
    rmSync(this.dir, { recursive: true, force: true });
  }

  /** WhatsApp through Meta (template `verify_code`), voice through Vonage; after start. */
  env(): Record<string, string> {
    return {
      WHATSAPP_PROVIDER: 'meta',
      META_GRAPH_BASE_URL: this.meta.url,
      META_PHONE_NUMBER_ID: PHONE_NUMBER_ID,
      META_ACCESS_TOKEN: this.token,
      META_APP_SECRET: this.appSecret,
      META_TEMPLATE_NAME: 'verify_code',
      VOICE_PROVIDER: 'vonage',
      VONAGE_VOICE_BASE_URL: this.vonage.url,
      VONAGE_APPLICATION_ID: this.application,
      VONAGE_PRIVATE_KEY_FILE: this.keyFile,
      VONAGE_VOICE_FROM: '+15005550006',
      VONAGE_SIGNATURE_SECRET: this.signatureSecret,
    };
  }

  /** The X-Hub-Signature-256 Meta signs a status webhook's body with. */
  metaSignature(body: string): string {
    return `sha256=${createHmac('sha256', this.appSecret).update(body).digest('hex')}`;
  }

  /** The Authorization of Vonage's signed event: a JWT (HS256, the signature secret) over the body's SHA-256. */
  vonageAuthorization(body: string, secret = this.signatureSecret): string {
    const b64 = (value: object) => Buffer.from(JSON.stringify(value)).toString('base64url');
    const header = b64({ alg: 'HS256', typ: 'JWT' });
    const payload = b64({
      iat: Math.floor(Date.now() / 1000),
      jti: randomUUID(),
      payload_hash: createHash('sha256').update(body).digest('hex'),
    });
    return `Bearer ${header}.${payload}.${createHmac('sha256', secret).update(`${header}.${payload}`).digest('base64url')}`;
  }
}

/** A WhatsApp status webhook's body, as Meta posts it. */
export function metaStatusWebhook(statuses: object[]): string {
  return JSON.stringify({
    object: 'whatsapp_business_account',
    entry: [{ id: '1', changes: [{ field: 'messages', value: { statuses } }] }],
  });
}
