/** Where a message stands according to its provider's receipts (the states every provider maps to). */
export type DeliveryStatus = 'queued' | 'sent' | 'delivered' | 'undelivered' | 'failed';

export const DELIVERY_STATUSES: readonly DeliveryStatus[] = ['queued', 'sent', 'delivered', 'undelivered', 'failed'];

/**
 * How far a status is along: a receipt changes a message's status only to one of a higher rank,
 * so a duplicate or a late `sent` changes nothing. `undelivered` and `failed` rank alike (the first
 * one stays); `delivered` outranks them: the handset has the text, whatever an earlier receipt said.
 */
export const STATUS_RANK: Readonly<Record<DeliveryStatus, number>> = {
  queued: 0,
  sent: 1,
  undelivered: 2,
  failed: 2,
  delivered: 3,
};

/** Whether a message at `current` (none yet: undefined) moves on to `next`. */
export function advances(current: DeliveryStatus | null | undefined, next: DeliveryStatus): boolean {
  return current == null || STATUS_RANK[next] > STATUS_RANK[current];
}

/** The statuses after which the message will not reach the handset through this provider. */
export function isFailure(status: DeliveryStatus): boolean {
  return status === 'undelivered' || status === 'failed';
}

/** One status report about one message, as a provider's receipt endpoint received it. */
export interface DeliveryReceipt {
  /** the provider's name as SMS_PROVIDER spells it (`twilio`, `webhook`, …) */
  provider: string;
  /** the provider's id for the message (SmsAccepted.providerMessageId) */
  providerMessageId: string;
  status: DeliveryStatus;
  /** the provider's own error code for undelivered / failed, as the provider writes it */
  errorCode?: string;
  /** when the provider says the status was reached, if it says */
  at?: Date;
  /** what the provider says the message cost (micros), and in which currency when it says */
  price?: { micros: number; currency?: string };
}

/** A receipt request as it arrived: what a provider's signature check needs. */
export interface ReceiptRequest {
  /** the URL the provider called, as configured publicly (signatures cover it) */
  url: string;
  headers: Readonly<Record<string, string | string[] | undefined>>;
  rawBody: Buffer;
}

/**
 * One provider's receipt endpoint: checks the request's signature or credentials and turns its
 * body into receipts. Throws a ReceiptRejected when the request is not authentic or not readable.
 */
export abstract class ReceiptParser {
  abstract readonly provider: string;
  abstract parse(request: ReceiptRequest): DeliveryReceipt[];

  /**
   * A provider that verifies its endpoint with a GET challenge (Meta's `hub.challenge`) answers it
   * here: the text to answer with, or undefined when the request is no challenge. Throws a
   * ReceiptRejected when it is one that must not be answered.
   */
  challenge?(query: URLSearchParams): string | undefined;

  /**
   * The metrics' label of one of the provider's error codes: a closed set, so a parser that knows
   * its provider's codes names them, and every other code is `other` (the default for all).
   */
  errorLabel(code: string): string {
    void code;
    return 'other';
  }
}

/** The receipt parsers of the configured providers, one per provider (a Nest multi-provider list). */
export const RECEIPT_PARSERS = Symbol('RECEIPT_PARSERS');

/** A receipt request that is refused: `status` is the HTTP status to answer with (401 or 400). */
export class ReceiptRejected extends Error {
  constructor(
    message: string,
    readonly status: 400 | 401,
  ) {
    super(message);
    this.name = 'ReceiptRejected';
  }
}

/** Where a provider posts its receipts, given SMS_RECEIPTS_BASE_URL. */
export function receiptUrl(baseUrl: string, provider: string): string {
  return `${baseUrl.replace(/\/+$/, '')}/v2/sms/receipts/${provider}`;
}
