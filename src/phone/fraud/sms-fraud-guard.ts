import { Injectable } from '@nestjs/common';
import { createHmac } from 'node:crypto';
import { FraudSettings } from './fraud.settings';
import { AppError } from '../../common/errors/app-error';
import { NewEvent } from '../../common/events/events.repository';
import { AppLogger } from '../../common/logging/app-logger';
import { AddressSet, addressKey } from '../../common/throttle/address-set';
import type { RequestOrigin } from '../../common/throttle/client-address';
import type { Tx } from '../../database/sql';
import { CodeMac } from '../code-mac';
import { PhoneCodeEntity } from '../phone-code.entity';
import { PhoneEvents } from '../phone-events';
import { PhoneErrors } from '../phone.errors';
import { ParsedPhone } from '../phone-number';
import { FraudThresholds, FraudVerdict, judge } from './sms-fraud-rules';
import { FraudSubject, SmsFraudStore } from './sms-fraud-store';
import { FraudBypass, FraudDecision, SmsFraudMetrics } from './sms-fraud.metrics';

/** A send the guard refused (enforce): the error to answer and the event that records it. */
export interface FraudBlock {
  error: AppError;
  event: NewEvent;
}

/** What the issuer gets back: a block, or what to count and store with the code. */
export type FraudAdmission =
  | { blocked: FraudBlock }
  | {
      blocked?: undefined;
      /** the send's counting, issued (a write of the caller's transaction); undefined when the guard is off */
      count?: () => Promise<void>;
      /** stored on the code, so that its verification counts in the send's buckets */
      sentFrom: string | null;
      country: string | null;
    };

/** The guard's view of a send, read before it and outside any transaction: advisory, for the risk hook. */
export interface FraudAssessment {
  mode: 'record' | 'enforce';
  numberVerified: boolean;
  /** the rules the send would break */
  hits: FraudVerdict['hits'];
  measures: FraudVerdict['measures'];
}

/** The E.164 number without its last 4 digits: the block of numbers a pumping ring rents. */
export const numberPrefix = (e164: string): string => e164.slice(0, Math.max(2, e164.length - 4));

const UNKNOWN = 'unknown';

/**
 * The SMS pumping guard (ADR 0017): unverified sends per country, prefix and address against what
 * normally verifies there; `record` only logs and counts, `enforce` refuses. Asked by PhoneCodeIssuer only.
 */
@Injectable()
export class SmsFraudGuard {
  private readonly mode: FraudSettings['mode'];
  private readonly thresholds: FraudThresholds;
  private readonly allowedAddresses: AddressSet;
  private readonly allowedCountries: Set<string>;
  private readonly allowedNumbers: Array<(e164: string) => boolean>;
  private hashKey?: { id: string; key: Buffer };

  constructor(
    private readonly config: FraudSettings,
    private readonly store: SmsFraudStore,
    private readonly mac: CodeMac,
    private readonly metrics: SmsFraudMetrics,
    private readonly logger: AppLogger,
  ) {
    logger.setContext(SmsFraudGuard.name);
    this.mode = config.mode;
    this.thresholds = {
      countryFloor: config.countryFloor,
      countryHourlyFloor: config.countryHourlyFloor,
      prefixFloor: config.prefixFloor,
      prefixHourlyFloor: config.prefixHourlyFloor,
      addressFloor: config.addressFloor,
      addressMaxCountries: config.addressMaxCountries,
      ratio: config.verifiedRatio,
      hourlyDivisor: config.hourlyDivisor,
    };
    this.allowedAddresses = new AddressSet(config.allowedAddresses);
    this.allowedCountries = new Set((config.allowedCountries ?? '').split(',').map((c) => c.trim()));
    this.allowedNumbers = (config.allowedNumbers ?? '')
      .split(',')
      .map((p) => p.trim())
      .filter(Boolean)
      .map((pattern) =>
        pattern.endsWith('*') ? (e164: string) => e164.startsWith(pattern.slice(0, -1)) : (e164) => e164 === pattern,
      );
  }

  get enabled(): boolean {
    return this.mode !== 'off';
  }

  /**
   * Judges one SMS send (in the caller's transaction). A block is returned, never thrown: the
   * caller commits its event and then answers the error.
   */
  async admit(tx: Tx, phone: ParsedPhone, origin: RequestOrigin | undefined, now: Date): Promise<FraudAdmission> {
    if (this.mode === 'off') return { sentFrom: null, country: null };
    const subject = this.subject(phone, origin);
    const admitted = {
      sentFrom: subject.address ?? UNKNOWN,
      country: subject.country,
      count: () => this.store.countSend(tx, subject, now),
    };
    const bypass = this.bypassOf(phone, origin);
    if (bypass) {
      this.decided(bypass, 'pass', subject);
      return admitted;
    }
    const history = await this.store.history(
      tx,
      subject,
      now,
      new Date(now.getTime() - this.config.rememberVerifiedMs),
    );
    if (history.numberVerified) {
      this.decided('verified_number', 'pass', subject);
      return admitted;
    }
    const verdict = judge(history, subject.country, now, this.thresholds);
    const rule = verdict.hits[0];
    if (!rule) {
      this.decided('none', 'pass', subject, verdict);
      return admitted;
    }
    if (this.mode === 'record') {
      this.decided(rule, 'flag', subject, verdict);
      return admitted;
    }
    this.decided(rule, 'block', subject, verdict);
    return {
      blocked: {
        error: PhoneErrors.smsPumping(rule),
        event: {
          type: PhoneEvents.codeSendBlocked,
          payload: { rule, country: subject.country, prefix: subject.prefix },
        },
      },
    };
  }

  /** The counts and rules the send would meet now, read on their own (no transaction); undefined when the guard is off. */
  async assess(phone: ParsedPhone, origin: RequestOrigin | undefined, now: Date): Promise<FraudAssessment | undefined> {
    if (this.mode === 'off') return undefined;
    const subject = this.subject(phone, origin);
    const remembered = new Date(now.getTime() - this.config.rememberVerifiedMs);
    const history = await this.store.history(undefined, subject, now, remembered);
    const { hits, measures } = judge(history, subject.country, now, this.thresholds);
    return { mode: this.mode, numberVerified: history.numberVerified, hits, measures };
  }

  /**
   * The write that counts a verification of `code` (sent by SMS while the guard counted) in its
   * send's buckets and remembers the number as verified; undefined when there is nothing to count.
   */
  verified(tx: Tx, code: PhoneCodeEntity, now: Date): Promise<void> | undefined {
    if (this.mode === 'off' || !code.sentFrom || !code.smsQueuedAt) return undefined;
    const subject: FraudSubject = {
      country: code.sentCountry ?? UNKNOWN,
      prefix: numberPrefix(code.phone),
      address: code.sentFrom === UNKNOWN ? undefined : code.sentFrom,
      numberHash: this.numberHash(code.phone),
    };
    return this.store.countVerified(tx, subject, code.smsQueuedAt, now);
  }

  private subject(phone: ParsedPhone, origin: RequestOrigin | undefined): FraudSubject {
    const address = origin?.clientAddress;
    return {
      country: phone.country ?? UNKNOWN,
      prefix: numberPrefix(phone.e164),
      address: address && address !== UNKNOWN ? addressKey(address) : undefined,
      numberHash: this.numberHash(phone.e164),
    };
  }

  private bypassOf(phone: ParsedPhone, origin: RequestOrigin | undefined): FraudBypass | undefined {
    if (origin && this.allowedAddresses.has(origin.clientAddress)) return 'allowed_address';
    if (phone.country && this.allowedCountries.has(phone.country)) return 'allowed_country';
    if (this.allowedNumbers.some((matches) => matches(phone.e164))) return 'allowed_number';
    return undefined;
  }

  /** A keyed hash of the number (HMAC-SHA-256 under a key derived from the code MAC key): never the number itself. */
  private numberHash(e164: string): string {
    const keyId = this.mac.currentKeyId;
    if (this.hashKey?.id !== keyId) {
      this.hashKey = { id: keyId, key: this.mac.deriveKey(keyId, 'sms-fraud-number') ?? Buffer.alloc(32) };
    }
    return createHmac('sha256', this.hashKey.key).update(e164).digest('base64url');
  }

  /** Counted, and logged: every decision in record mode, blocks in enforce (passes there at debug). */
  private decided(
    rule: FraudBypass | FraudVerdict['hits'][number] | 'none',
    decision: FraudDecision,
    subject: FraudSubject,
    verdict?: FraudVerdict,
  ): void {
    const mode = this.mode === 'enforce' ? 'enforce' : 'record';
    this.metrics.decided(rule, mode, decision);
    const line = {
      smsFraud: {
        mode,
        decision,
        rule,
        hits: verdict?.hits ?? [],
        country: subject.country,
        prefix: subject.prefix,
        measures: verdict?.measures,
      },
    };
    const text = 'SMS pumping guard decision';
    if (decision === 'block') this.logger.warn(line, text);
    else if (mode === 'record') this.logger.info(line, text);
    else this.logger.debug(line, text);
  }
}
