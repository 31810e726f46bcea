/** One text message to one number. `id` is stable across retries (an idempotency key for receivers). */
export interface SmsMessage {
  id: string;
  to: string;
  text: string;
  code: string;
  userId: string;
  orgId: string;
  /** when the code dies: a provider that supports a validity period gets the remaining lifetime */
  expiresAt: Date;
  /** providers of a chain not to try (e.g. the one whose receipt said undelivered) */
  skipProviders?: readonly string[];
  /** the user's preferred language (BCP 47), for senders that render their own text (voice, WhatsApp templates) */
  language?: string;
  /** the sender id for the destination's country (SMS_SENDER_IDS), set by the router; unset, each provider's own */
  senderId?: string;
}

/** A provider took the message: which one, and its id for the message (receipts name it). */
export interface SmsAccepted {
  provider: string;
  providerMessageId?: string;
  /** a delegated verifier's id for the verification it started (PHONE_VERIFIER): VerifyPhone checks against it */
  verificationId?: string;
}

/**
 * Why a provider call failed, from a bounded set (metrics label it): the transport's failure, the
 * class of the HTTP status, or one of the provider's own codes that the sender knows by name.
 */
export type SmsErrorCode =
  | 'timeout'
  | 'network'
  | 'http_3xx'
  | 'http_4xx'
  | 'http_429'
  | 'http_5xx'
  | `twilio_${number}`
  | `vonage_${number}`
  | `messagebird_${number}`
  | `meta_${number}`
  | `sns_${string}`
  | 'other';

/** A failed delivery: `retryable` says whether trying again later can help. */
export class SmsDeliveryError extends Error {
  constructor(
    message: string,
    readonly retryable: boolean,
    readonly code: SmsErrorCode = 'other',
  ) {
    super(message);
    this.name = 'SmsDeliveryError';
  }
}

/** The same failure with every occurrence of `code` blanked out of its message. */
export function withoutCode(error: SmsDeliveryError, code: string): SmsDeliveryError {
  if (!code || !error.message.includes(code)) return error;
  return new SmsDeliveryError(error.message.split(code).join('[redacted]'), error.retryable, error.code);
}

/**
 * Delivery behind one interface; SMS_PROVIDER picks the implementation (a list means failover).
 * `send` resolves when a provider accepted the message, naming it (chains hold several) and the
 * provider's id for the message, and throws SmsDeliveryError otherwise.
 */
export abstract class SmsSender {
  abstract readonly name: string;
  abstract send(message: SmsMessage): Promise<SmsAccepted>;
}

/** Development: the text goes to stdout (not to the log, which never carries codes). */
export class ConsoleSmsSender extends SmsSender {
  readonly name = 'console';

  async send(message: SmsMessage): Promise<SmsAccepted> {
    process.stdout.write(`[sms to ${message.to}] ${message.text}\n`);
    return { provider: this.name };
  }
}

/** Sends nothing: for deployments that only use return_code, and for tests. */
export class NoneSmsSender extends SmsSender {
  readonly name = 'none';

  async send(): Promise<SmsAccepted> {
    return { provider: this.name };
  }
}
