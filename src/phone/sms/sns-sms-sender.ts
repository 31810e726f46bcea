import { PublishCommand, SNSClient, type MessageAttributeValue } from '@aws-sdk/client-sns';
import { inSpan, KIND } from '../../common/tracing/tracing';
import { isRetryableStatus, networkFailure, statusErrorCode } from './http-delivery';
import { SmsAccepted, SmsDeliveryError, SmsErrorCode, SmsMessage, SmsSender } from './sms-sender';

export interface SnsSmsSenderOptions {
  region: string;
  /** A local fake of SNS's Query API in tests; unset, the region's endpoint. */
  endpoint?: string;
  /** Both or neither: unset, the SDK's default chain (environment, shared files, the instance or task role). */
  accessKeyId?: string;
  secretAccessKey?: string;
  /** An alphanumeric sender id (AWS.SNS.SMS.SenderID), where the destination allows one; a message's senderId wins. */
  senderId?: string;
  timeoutMs: number;
}

/**
 * SNS's error codes (without the SDK's "Exception" suffix) that say "later may work": throttling
 * and SNS's own faults.
 */
const RETRYABLE = new Set([
  'Throttling',
  'Throttled',
  'InternalError',
  'InternalFailure',
  'ServiceUnavailable',
  'KMSThrottling',
]);
/** Codes no retry can fix: the request, the credentials or their permissions, the recipient. */
const FINAL = new Set([
  'InvalidParameter',
  'InvalidParameterValue',
  'Validation',
  'ValidationError',
  'AuthorizationError',
  'InvalidClientTokenId',
  'SignatureDoesNotMatch',
  'AccessDenied',
  'ExpiredToken',
  'InvalidSecurity',
  'OptedOut',
  'EndpointDisabled',
  'NotFound',
  'KMSAccessDenied',
  'KMSDisabled',
  'KMSInvalidState',
  'KMSNotFound',
]);

/** The code SNS answered with: the SDK names a modeled one `<Code>Exception`, an unmodeled one by its code. */
export function snsCode(name: string | undefined): string | undefined {
  if (!name || !/^[A-Za-z]{1,80}$/.test(name)) return undefined;
  return name.endsWith('Exception') && name !== 'Exception' ? name.slice(0, -'Exception'.length) : name;
}

/** `Throttling` → `throttling`, `KMSThrottling` → `kms_throttling`, `InvalidParameterValue` → `invalid_parameter_value`. */
function snakeCase(name: string): string {
  return name
    .replace(/([A-Z]+)([A-Z][a-z])/g, '$1_$2')
    .replace(/([a-z0-9])([A-Z])/g, '$1_$2')
    .toLowerCase();
}

/** The metrics' name of an SNS failure: `sns_<code>` for the codes above, else the HTTP status class. */
export function snsErrorCode(httpStatus: number | undefined, code: string | undefined): SmsErrorCode {
  if (code !== undefined && (RETRYABLE.has(code) || FINAL.has(code))) return `sns_${snakeCase(code)}`;
  return httpStatus === undefined ? 'other' : statusErrorCode(httpStatus);
}

/** A known code decides before the HTTP status; a fault SNS calls its own (5xx) may pass later. */
export function isRetryableSnsFailure(httpStatus: number | undefined, code: string | undefined): boolean {
  if (code !== undefined && RETRYABLE.has(code)) return true;
  if (code !== undefined && FINAL.has(code)) return false;
  return httpStatus === undefined ? true : isRetryableStatus(httpStatus);
}

interface SdkError {
  name?: string;
  message?: string;
  code?: string;
  Code?: string;
  $metadata?: { httpStatusCode?: number };
}

/**
 * Amazon SNS: one Publish per message to the phone number, as a Transactional SMS. The SDK's own
 * retries are off (the outbox retries, with its back-off and for the code's life). SNS has no
 * validity period for SMS and no idempotency key.
 */
export class SnsSmsSender extends SmsSender {
  readonly name = 'sns';
  private readonly client: SNSClient;
  private readonly host: { address: string; port: number };

  constructor(private readonly options: SnsSmsSenderOptions) {
    super();
    if (!options.accessKeyId !== !options.secretAccessKey) {
      throw new Error('SnsSmsSender needs both or neither of accessKeyId and secretAccessKey');
    }
    this.client = new SNSClient({
      region: options.region,
      endpoint: options.endpoint,
      credentials:
        options.accessKeyId && options.secretAccessKey
          ? { accessKeyId: options.accessKeyId, secretAccessKey: options.secretAccessKey }
          : undefined,
      maxAttempts: 1,
      requestHandler: { requestTimeout: options.timeoutMs, connectionTimeout: options.timeoutMs },
    });
    const url = new URL(options.endpoint ?? `https://sns.${options.region}.amazonaws.com`);
    this.host = { address: url.hostname, port: Number(url.port) || (url.protocol === 'https:' ? 443 : 80) };
  }

  async send(message: SmsMessage): Promise<SmsAccepted> {
    const attributes: Record<string, MessageAttributeValue> = {
      'AWS.SNS.SMS.SMSType': { DataType: 'String', StringValue: 'Transactional' },
    };
    const sender = message.senderId ?? this.options.senderId;
    if (sender?.startsWith('+')) {
      attributes['AWS.MM.SMS.OriginationNumber'] = { DataType: 'String', StringValue: sender };
    } else if (sender) {
      attributes['AWS.SNS.SMS.SenderID'] = { DataType: 'String', StringValue: sender };
    }
    const command = new PublishCommand({
      PhoneNumber: message.to,
      Message: message.text,
      MessageAttributes: attributes,
    });
    const spanAttributes = {
      'http.request.method': 'POST',
      'server.address': this.host.address,
      'server.port': this.host.port,
      'sms.provider': this.name,
    };
    try {
      const answer = await inSpan('POST', KIND.CLIENT, spanAttributes, () =>
        this.client.send(command, { abortSignal: AbortSignal.timeout(this.options.timeoutMs) }),
      );
      return { provider: this.name, providerMessageId: answer.MessageId };
    } catch (error) {
      throw this.failure(error as SdkError, message.code);
    }
  }

  private failure(error: SdkError, code: string): SmsDeliveryError {
    const status = error?.$metadata?.httpStatusCode;
    const text = typeof error?.message === 'string' ? error.message : '';
    if (status === undefined) {
      // no answer: a timeout, or a refused connection (Node's code is on the error, or only in its text
      // when the SDK had to wrap what it caught)
      if (['TimeoutError', 'AbortError', 'RequestTimeout'].includes(error?.name ?? '') || /timed? ?out/i.test(text)) {
        return new SmsDeliveryError(`sns: no answer within ${this.options.timeoutMs} ms`, true, 'timeout');
      }
      const network = typeof error?.code === 'string' ? error.code : /\b(E[A-Z]{3,}[A-Z_]*)\b/.exec(text)?.[1];
      if (network && /^E[A-Z_]+$/.test(network)) {
        return new SmsDeliveryError(`sns: request failed (${network})`, true, 'network');
      }
      return networkFailure(this.name, error, this.options.timeoutMs);
    }
    const name = snsCode(error?.name);
    const masked = (code ? text.split(code).join('***') : text).slice(0, 200);
    const parts = [`sns: HTTP ${status}`];
    if (name) parts.push(`code ${name}`);
    if (masked) parts.push(masked);
    return new SmsDeliveryError(parts.join(', '), isRetryableSnsFailure(status, name), snsErrorCode(status, name));
  }
}
