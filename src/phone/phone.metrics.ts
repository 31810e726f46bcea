import { Injectable } from '@nestjs/common';
import { Counter, Histogram } from 'prom-client';
import { CodeSettings } from './phone-codes.settings';
import { SmsSettings } from './sms/sms.settings';
import { LimitMetrics } from '../common/limits/limit.metrics';
import { Metrics } from '../common/metrics/metrics';
import type { CheckReason } from './phone-code-checker';
import type { Verification } from './phone-code-issuer';
import { effectiveRoutes } from './sms/sms-routes';
import type { SmsDeliveryError, SmsErrorCode } from './sms/sms-sender';
import type { Channel } from './sms/channels';
import { ChannelRoutesSettings } from './channels/channel-routes.settings';
import { routedChannels } from './channels/channel-routes';

/** Why a code went on to its next channel: the step failed for good, its receipt said undelivered, or it timed out. */
export type FallbackReason = 'failed' | 'undelivered' | 'timeout';
/** What became of one step's attempt on its channel. */
export type ChannelSendResult = 'accepted' | 'retry' | 'failed';

export type VerificationOutcome = 'ok' | 'wrong' | 'expired' | 'none_pending' | 'exhausted' | 'limited';
const OUTCOMES: VerificationOutcome[] = ['ok', 'wrong', 'expired', 'none_pending', 'exhausted', 'limited'];

/** A code consumed by a concurrent check between the load and the consume finds none pending either. */
const OUTCOME_OF: Record<CheckReason, VerificationOutcome> = {
  no_code_pending: 'none_pending',
  consumed: 'none_pending',
  failed_checks_per_day: 'limited',
  expired: 'expired',
  attempts_exhausted: 'exhausted',
  wrong_code: 'wrong',
};

/**
 * How a message that was given up ended: refused for good, retried until its life ran out on …,
 * or accepted and then reported undelivered / failed by every provider that could take it.
 */
export type SmsFailureReason = 'rejected' | 'timeout' | 'unavailable' | 'other' | 'undelivered';

/** Why a receipt request was refused (the provider label is `unknown` for a provider without receipts). */
export type ReceiptRejection = 'receipts_off' | 'signature' | 'malformed';

export function failureReason(error: SmsDeliveryError): SmsFailureReason {
  if (!error.retryable) return 'rejected';
  if (error.code === 'timeout') return 'timeout';
  return error.code === 'other' ? 'other' : 'unavailable';
}

/** What became of one message offered to one provider. */
export type ProviderSendResult = 'accepted' | 'retryable' | 'rejected';
const SEND_RESULTS: ProviderSendResult[] = ['accepted', 'retryable', 'rejected'];

/** Provider calls take tens of milliseconds to seconds; the providers' timeouts are 1–60 s. */
const PROVIDER_BUCKETS = [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];

/**
 * The verification funnel and SMS delivery series (see README "Verification funnel and delivery
 * series"). Every label value comes from a closed set: a channel, an outcome, a configured
 * provider's name, a reason or error code of the tables here and in SmsErrorCode; never a user
 * id, a number or a provider's text.
 */
@Injectable()
export class PhoneMetrics {
  private readonly codesIssued: Counter<'channel'>;
  private readonly smsQueued: Counter;
  private readonly smsSent: Counter<'provider'>;
  private readonly smsFailed: Counter<'provider' | 'reason'>;
  private readonly attempts: Counter<'provider' | 'result'>;
  private readonly verifications: Counter<'outcome'>;
  private readonly providerDuration: Histogram<'provider' | 'result'>;
  private readonly providerErrors: Counter<'provider' | 'code'>;
  private readonly receipts: Counter<'provider' | 'status'>;
  private readonly receiptErrors: Counter<'provider' | 'code'>;
  private readonly receiptsRejected: Counter<'provider' | 'reason'>;
  private readonly smsDelivered: Counter<'provider'>;
  private readonly providerSends: Counter<'provider' | 'route' | 'result'>;
  private readonly channelSends: Counter<'channel' | 'result'>;
  private readonly channelReceipts: Counter<'channel' | 'status'>;
  private readonly fallbacks: Counter<'from' | 'to' | 'reason'>;

  constructor(
    metrics: Metrics,
    codes: CodeSettings,
    sms: SmsSettings,
    private readonly limits: LimitMetrics,
    channelRoutes: ChannelRoutesSettings,
  ) {
    const registers = [metrics.registry];
    this.codesIssued = new Counter({
      name: 'pv_phone_codes_issued_total',
      help: "Verification codes issued (committed), by channel: the first step's (sms, whatsapp, voice), returned, or a test number's fixed code",
      labelNames: ['channel'],
      registers,
    });
    this.smsQueued = new Counter({
      name: 'pv_sms_queued_total',
      help: 'SMS written to the outbox (committed with their code)',
      registers,
    });
    this.smsSent = new Counter({
      name: 'pv_sms_sent_total',
      help: 'SMS a provider accepted, by the provider that took it',
      labelNames: ['provider'],
      registers,
    });
    this.smsFailed = new Counter({
      name: 'pv_sms_failed_total',
      help: 'SMS given up, by provider and reason: rejected (refused for good), or retried until the end of its life on timeout, unavailable or other failures',
      labelNames: ['provider', 'reason'],
      registers,
    });
    this.attempts = new Counter({
      name: 'pv_sms_outbox_attempts_total',
      help: 'Delivery attempts of the outbox, by provider and result: sent, retry (a later attempt is scheduled) or failed (given up)',
      labelNames: ['provider', 'result'],
      registers,
    });
    this.verifications = new Counter({
      name: 'pv_phone_verifications_total',
      help: 'VerifyPhone checks committed, by outcome',
      labelNames: ['outcome'],
      registers,
    });
    this.providerDuration = new Histogram({
      name: 'pv_sms_provider_request_duration_seconds',
      help: 'Duration of one call to an SMS provider, by provider and result (ok or error)',
      labelNames: ['provider', 'result'],
      buckets: PROVIDER_BUCKETS,
      registers,
    });
    this.providerErrors = new Counter({
      name: 'pv_sms_provider_errors_total',
      help: 'Failed calls to an SMS provider, by provider and error code (timeout, network, HTTP status class, known provider codes)',
      labelNames: ['provider', 'code'],
      registers,
    });
    this.receipts = new Counter({
      name: 'pv_sms_receipts_total',
      help: 'Delivery receipts taken (authentic and readable; duplicates included), by provider and status',
      labelNames: ['provider', 'status'],
      registers,
    });
    this.receiptErrors = new Counter({
      name: 'pv_sms_receipt_errors_total',
      help: "Undelivered and failed receipts by provider and the provider's error code (its known codes; any other is other)",
      labelNames: ['provider', 'code'],
      registers,
    });
    this.receiptsRejected = new Counter({
      name: 'pv_sms_receipts_rejected_total',
      help: 'Receipt requests refused, by provider (unknown: none with receipts here) and reason: receipts_off, signature or malformed',
      labelNames: ['provider', 'reason'],
      registers,
    });
    this.smsDelivered = new Counter({
      name: 'pv_sms_delivered_total',
      help: "SMS a provider's receipt said reached the handset (each message once), by provider",
      labelNames: ['provider'],
      registers,
    });
    this.providerSends = new Counter({
      name: 'pv_sms_sends_total',
      help: 'Messages offered to an SMS provider, by provider, route (a country of SMS_ROUTES, or * for all others) and result: accepted, retryable (failed, may pass later) or rejected (failed for good)',
      labelNames: ['provider', 'route', 'result'],
      registers,
    });
    this.channelSends = new Counter({
      name: 'pv_channel_sends_total',
      help: "Delivery attempts of a code's step, by channel and result: accepted, retry (a later attempt is scheduled) or failed (the step given up)",
      labelNames: ['channel', 'result'],
      registers,
    });
    this.channelReceipts = new Counter({
      name: 'pv_channel_receipts_total',
      help: "Receipt statuses applied to a code's step (each status once per message), by channel and status",
      labelNames: ['channel', 'status'],
      registers,
    });
    this.fallbacks = new Counter({
      name: 'pv_channel_fallbacks_total',
      help: 'Codes that went on to their next channel, by the channel left (from), the next (to) and reason: failed, undelivered or timeout',
      labelNames: ['from', 'to', 'reason'],
      registers,
    });
    // the series a dashboard always wants show from the start, at 0
    const routed = routedChannels(channelRoutes.policy().routes);
    const channels = [...new Set(['sms', ...routed, 'returned', ...(codes.testNumbers ? ['test_number'] : [])])];
    for (const channel of channels) this.codesIssued.inc({ channel }, 0);
    for (const channel of new Set(['sms', ...routed])) {
      for (const result of ['accepted', 'retry', 'failed']) this.channelSends.inc({ channel, result }, 0);
    }
    for (const outcome of OUTCOMES) this.verifications.inc({ outcome }, 0);
    for (const [route, providers] of effectiveRoutes(sms)) {
      for (const provider of providers) {
        this.smsSent.inc({ provider }, 0);
        for (const result of SEND_RESULTS) this.providerSends.inc({ provider, route, result }, 0);
      }
    }
  }

  /**
   * After the commit of a SetPhone, ResendPhoneCode or new user with a phone; `verified` issues no
   * code. `queued`: an SMS was queued (a send to a test number queues none: channel `test_number`).
   */
  codeIssued(kind: Verification['kind'], queued = kind === 'send', channel: Channel = 'sms'): void {
    if (kind === 'verified') return;
    this.codesIssued.inc({ channel: kind === 'return' ? 'returned' : queued ? channel : 'test_number' });
    if (queued) this.smsQueued.inc();
  }

  /** After the commit of a VerifyPhone check; a check the daily failure limit refused is also a limit refusal. */
  verification(result: 'ok' | CheckReason): void {
    if (result === 'failed_checks_per_day') this.limits.refused(result);
    this.verifications.inc({ outcome: result === 'ok' ? 'ok' : OUTCOME_OF[result] });
  }

  /** A provider accepted the message (`provider`: the one of a chain that did). */
  sent(provider: string): void {
    this.smsSent.inc({ provider });
    this.attempts.inc({ provider, result: 'sent' });
  }

  /** An attempt failed; `retry`: a later one is scheduled. */
  attemptFailed(provider: string, retry: boolean): void {
    this.attempts.inc({ provider, result: retry ? 'retry' : 'failed' });
  }

  /** The message was given up and its row finished as failed. */
  failed(provider: string, error: SmsDeliveryError): void {
    this.smsFailed.inc({ provider, reason: failureReason(error) });
  }

  /** Providers that take receipts: their receipt and delivered series show from the start, at 0. */
  receiptProviders(providers: readonly string[], statuses: readonly string[]): void {
    for (const provider of providers) {
      this.smsDelivered.inc({ provider }, 0);
      for (const status of statuses) this.receipts.inc({ provider, status }, 0);
    }
  }

  /** One receipt taken; `errorLabel`: its error code's label (closed set) with an undelivered / failed one. */
  receipt(provider: string, status: string, errorLabel?: string): void {
    this.receipts.inc({ provider, status });
    if (errorLabel !== undefined) this.receiptErrors.inc({ provider, code: errorLabel });
  }

  receiptRejected(provider: string, reason: ReceiptRejection): void {
    this.receiptsRejected.inc({ provider, reason });
  }

  /** A message's first delivered receipt. */
  delivered(provider: string): void {
    this.smsDelivered.inc({ provider });
  }

  /** A message accepted, then reported undelivered by every provider that could take it. */
  undelivered(provider: string): void {
    this.smsFailed.inc({ provider, reason: 'undelivered' });
  }

  /** One attempt of a step on its channel. */
  channelSend(channel: Channel, result: ChannelSendResult): void {
    this.channelSends.inc({ channel, result });
  }

  /** A receipt's status applied to a step on `channel`. */
  channelReceipt(channel: Channel, status: string): void {
    this.channelReceipts.inc({ channel, status });
  }

  /** A code went on from `from` to `to`. */
  fallback(from: Channel, to: Channel, reason: FallbackReason): void {
    this.fallbacks.inc({ from, to, reason });
  }

  /** One message offered to one provider on one route (a configured route key, never a number). */
  providerSend(provider: string, route: string, result: ProviderSendResult): void {
    this.providerSends.inc({ provider, route, result });
  }

  /** One call to one provider; `failure` when it failed. */
  providerCall(provider: string, seconds: number, failure?: SmsErrorCode): void {
    this.providerDuration.observe({ provider, result: failure === undefined ? 'ok' : 'error' }, seconds);
    if (failure !== undefined) this.providerErrors.inc({ provider, code: failure });
  }
}
