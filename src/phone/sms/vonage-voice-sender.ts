import { randomUUID } from 'node:crypto';
import { importPKCS8, SignJWT } from 'jose';
import type { CryptoKey } from 'jose';
import { Clock } from '../../common/clock';
import { VoiceTexts } from './channel-texts';
import { discardBody, isRetryableStatus, postWithTimeout, statusErrorCode } from './http-delivery';
import { SmsAccepted, SmsDeliveryError, SmsMessage, SmsSender } from './sms-sender';

export interface VonageVoiceSenderOptions {
  /** https://api.nexmo.com, or a local fake in tests. */
  baseUrl: string;
  applicationId: string;
  /** the application's private key (RS256) */
  privateKey: CryptoKey;
  /** the Vonage number that calls */
  from: string;
  timeoutMs: number;
  /** Where Vonage posts the call's events (event_url); Vonage's application default when unset. */
  eventUrl?: string;
}

/** The application's PEM private key (PKCS #8), ready to sign. Throws when it is none. */
export function vonagePrivateKey(pem: string): Promise<CryptoKey> {
  return importPKCS8(pem, 'RS256');
}

/** A call's id: a UUID. */
export const CALL_UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** How long the phone rings, and how long a call may last (it reads the code twice: well under a minute). */
const RINGING_SECONDS = 30;
const LENGTH_SECONDS = 90;

/**
 * Vonage Voice API: POST /v1/calls with an NCCO of two talk actions (the code read twice),
 * authenticated by a JWT the application's private key signs (RS256, five minutes). No
 * idempotency key: a request that timed out after Vonage took it and is then retried calls twice.
 */
export class VonageVoiceSender extends SmsSender {
  readonly name = 'vonage-voice';
  private readonly url: string;

  constructor(
    private readonly options: VonageVoiceSenderOptions,
    private readonly texts: VoiceTexts,
    private readonly clock: Clock,
  ) {
    super();
    this.url = `${options.baseUrl.replace(/\/+$/, '')}/v1/calls`;
  }

  async send(message: SmsMessage): Promise<SmsAccepted> {
    const { text, language } = this.texts.render(message.code, message.language);
    const talk = { action: 'talk', text, ...(language ? { language } : {}) };
    const body = {
      to: [{ type: 'phone', number: message.to.replace(/^\+/, '') }],
      from: { type: 'phone', number: this.options.from.replace(/^\+/, '') },
      ncco: [talk, talk],
      ringing_timer: RINGING_SECONDS,
      length_timer: LENGTH_SECONDS,
      ...(this.options.eventUrl ? { event_url: [this.options.eventUrl], event_method: 'POST' } : {}),
    };
    const response = await postWithTimeout(
      this.name,
      this.url,
      {
        headers: {
          Authorization: `Bearer ${await this.token()}`,
          'Content-Type': 'application/json',
          Accept: 'application/json',
        },
        body: JSON.stringify(body),
      },
      this.options.timeoutMs,
    );
    if (response.status >= 200 && response.status < 300) {
      const uuid = await readUuid(response);
      return uuid ? { provider: this.name, providerMessageId: uuid } : { provider: this.name };
    }
    throw new SmsDeliveryError(
      await describe(response, message.code),
      isRetryableStatus(response.status),
      statusErrorCode(response.status),
    );
  }

  private token(): Promise<string> {
    const now = Math.floor(this.clock.now().getTime() / 1000);
    return new SignJWT({ application_id: this.options.applicationId })
      .setProtectedHeader({ alg: 'RS256', typ: 'JWT' })
      .setIssuedAt(now)
      .setExpirationTime(now + 300)
      .setJti(randomUUID())
      .sign(this.options.privateKey);
  }
}

async function readUuid(response: Response): Promise<string | undefined> {
  try {
    const uuid = (JSON.parse(await response.text()) as { uuid?: unknown } | null)?.uuid;
    return typeof uuid === 'string' && CALL_UUID.test(uuid) ? uuid : undefined;
  } catch {
    await discardBody(response);
    return undefined;
  }
}

/** Vonage's problem document (`title`, `detail`), the code masked in case it is echoed. */
async function describe(response: Response, code: string): Promise<string> {
  const parts = [`vonage-voice: HTTP ${response.status}`];
  try {
    const problem = JSON.parse(await response.text()) as { title?: unknown; detail?: unknown } | null;
    for (const text of [problem?.title, problem?.detail]) {
      if (typeof text === 'string' && text) parts.push((code ? text.split(code).join('***') : text).slice(0, 200));
    }
  } catch {
    // no problem document: the status says it
  }
  return parts.join(', ');
}
