import { Inject, Injectable } from '@nestjs/common';
import { AppLogger } from '../../common/logging/app-logger';
import { PhoneErrors } from '../phone.errors';
import { PhoneMetrics } from '../phone.metrics';
import {
  DELIVERY_STATUSES,
  DeliveryReceipt,
  isFailure,
  RECEIPT_PARSERS,
  ReceiptParser,
  ReceiptRejected,
  receiptUrl,
} from '../sms/delivery-receipt';
import { SmsSettings } from '../sms/sms.settings';

/** A receipt request as the REST adapter hands it over. */
export interface IncomingReceipt {
  /** the request's query string with its "?", or "" (Twilio signs it with the URL) */
  query: string;
  headers: Readonly<Record<string, string | string[] | undefined>>;
  rawBody: Buffer;
}

/** Reads a provider's receipt request through its parser, which checks the signature; counts what it read. */
@Injectable()
export class SmsReceiptReader {
  private readonly parsers = new Map<string, ReceiptParser>();

  constructor(
    private readonly config: SmsSettings,
    @Inject(RECEIPT_PARSERS) parsers: ReceiptParser[],
    private readonly metrics: PhoneMetrics,
    private readonly logger: AppLogger,
  ) {
    // the receipts' lines, under the context of the service that takes them
    logger.setContext('SmsReceiptsService');
    for (const parser of parsers) this.parsers.set(parser.provider, parser);
    metrics.receiptProviders([...this.parsers.keys()], DELIVERY_STATUSES);
  }

  /** Whether `provider`'s receipts are taken (SMS_RECEIPTS_BASE_URL set and it has a parser). */
  takes(provider: string): boolean {
    return this.parsers.has(provider);
  }

  /** Whether any provider's receipts are taken. */
  get takesAny(): boolean {
    return this.parsers.size > 0;
  }

  /** The receipts of a request, or the error that refuses it (receipts off, a bad signature, a malformed body). */
  read(provider: string, request: IncomingReceipt): DeliveryReceipt[] {
    const parser = this.parsers.get(provider);
    if (!parser || !this.config.receiptsBaseUrl) {
      this.metrics.receiptRejected('unknown', 'receipts_off');
      throw PhoneErrors.receiptsOff(provider.slice(0, 40));
    }
    const url = receiptUrl(this.config.receiptsBaseUrl, provider) + request.query;
    return this.guarded(provider, () => parser.parse({ url, headers: request.headers, rawBody: request.rawBody }));
  }

  /** The answer to a provider's endpoint challenge (a GET with its query), or undefined when it is none. */
  challenge(provider: string, query: string): string | undefined {
    const parser = this.parsers.get(provider);
    if (!parser?.challenge || !this.config.receiptsBaseUrl) return undefined;
    return this.guarded(provider, () => parser.challenge!(new URLSearchParams(query)));
  }

  /** A parser's refusal as the error the endpoint answers with, counted and logged. */
  private guarded<T>(provider: string, read: () => T): T {
    try {
      return read();
    } catch (error) {
      if (!(error instanceof ReceiptRejected)) throw error;
      const signature = error.status === 401;
      this.metrics.receiptRejected(provider, signature ? 'signature' : 'malformed');
      this.logger.warn({ provider, reason: error.message }, 'SMS delivery receipt refused');
      throw signature ? PhoneErrors.receiptNotAuthentic(error.message) : PhoneErrors.receiptMalformed(error.message);
    }
  }

  /** Counts receipts once they are written down, a failure by the provider's error label. */
  count(provider: string, receipts: DeliveryReceipt[]): void {
    const parser = this.parsers.get(provider)!;
    for (const receipt of receipts) {
      const failure = isFailure(receipt.status);
      this.metrics.receipt(provider, receipt.status, failure ? parser.errorLabel(receipt.errorCode ?? '') : undefined);
    }
  }
}
