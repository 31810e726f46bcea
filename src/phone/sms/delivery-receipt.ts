/** Where a message stands according to its provider's receipts (the states every provider maps to). */
export type DeliveryStatus = 'queued' | 'sent' | 'delivered' | 'undelivered' | 'failed';

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
}

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
