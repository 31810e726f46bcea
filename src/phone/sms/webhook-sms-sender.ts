import { createHmac } from 'node:crypto';
import { Clock } from '../../common/clock';
import { discardBody, isRetryableStatus, postWithTimeout, statusErrorCode } from './http-delivery';
import { SmsAccepted, SmsDeliveryError, SmsMessage, SmsSender } from './sms-sender';

export interface WebhookSmsSenderOptions {
  url: string;
  timeoutMs: number;
  /** When set, every request carries `ZITADEL-Signature: t=<unix seconds>,v1=<hex HMAC-SHA-256>`. */
  signingKey?: string;
}

export const SIGNATURE_HEADER = 'ZITADEL-Signature';

/** `v1` of the signature header: hex HMAC-SHA-256 over "<t>.<raw body>". */
export function webhookSignature(key: string, timestamp: number, rawBody: string): string {
  return createHmac('sha256', key).update(`${timestamp}.${rawBody}`).digest('hex');
}

/** POSTs each message as JSON to a URL of the operator's; any 2xx means delivered. */
export class WebhookSmsSender extends SmsSender {
  readonly name = 'webhook';

  constructor(
    private readonly options: WebhookSmsSenderOptions,
    private readonly clock: Clock,
  ) {
    super();
  }

  async send(message: SmsMessage): Promise<SmsAccepted> {
    const body = JSON.stringify({
      id: message.id,
      to: message.to,
      text: message.text,
      code: message.code,
      userId: message.userId,
      orgId: message.orgId,
    });
    const headers: Record<string, string> = {
      'Content-Type': 'application/json',
      'Idempotency-Key': message.id,
    };
    if (this.options.signingKey) {
      const t = Math.floor(this.clock.now().getTime() / 1000);
      headers[SIGNATURE_HEADER] = `t=${t},v1=${webhookSignature(this.options.signingKey, t, body)}`;
    }
    const response = await postWithTimeout(this.name, this.options.url, { headers, body }, this.options.timeoutMs);
    await discardBody(response);
    // the receiver's receipts name the message by its id (see docs/sms-providers.md, Delivery receipts)
    if (response.status >= 200 && response.status < 300) return { provider: this.name, providerMessageId: message.id };
    throw new SmsDeliveryError(
      `webhook: HTTP ${response.status}`,
      isRetryableStatus(response.status),
      statusErrorCode(response.status),
    );
  }
}
