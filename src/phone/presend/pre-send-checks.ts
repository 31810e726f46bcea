import { Injectable } from '@nestjs/common';
import type { Caller } from '../../common/auth/caller';
import { Clock } from '../../common/clock';
import { AppSettings } from '../../common/config/app.settings';
import { DependencyError, describeCause } from '../../common/errors/dependency-error';
import { DependencyOutages } from '../../common/errors/dependency-outages';
import { AppLogger } from '../../common/logging/app-logger';
import type { RequestOrigin } from '../../common/throttle/client-address';
import type { UserEntity } from '../../users/entities/user.entity';
import { FraudBlock, numberPrefix, SmsFraudGuard } from '../fraud/sms-fraud-guard';
import { PhoneEvents } from '../phone-events';
import { PhoneErrors } from '../phone.errors';
import type { ParsedPhone } from '../phone-number';
import type { Channel } from '../sms/channels';
import { CaptchaVerifier } from './captcha-verifier';
import { CaptchaRequiredFor, HookFailure, PreSendSettings } from './pre-send.settings';
import { PreSendMetrics } from './pre-send.metrics';
import { SendContext, SendHook } from './send-hook';

/** One send about to be made, as the checks see it. */
export interface SendSubject {
  caller: Caller;
  user: Pick<UserEntity, 'id' | 'orgId'>;
  phone: ParsedPhone;
  use: SendContext['use'];
  origin?: RequestOrigin;
}

/** Go on (with the hook's channel, if it named one), or a veto: its error and the event that records it. */
export type PreSendVerdict = { blocked?: undefined; channel?: Channel } | { blocked: FraudBlock };

/** Whether CAPTCHA_REQUIRED_FOR asks this caller for a token: `self` when the caller is the user. */
export function captchaRequired(requiredFor: CaptchaRequiredFor, selfService: boolean): boolean {
  return requiredFor === 'all' || (requiredFor === 'self' && selfService);
}

/**
 * The checks that may veto a send before its transaction (ADR 0025): the CAPTCHA token, then the
 * risk hook. Both call out over HTTP, so neither runs inside a transaction (ADR 0013).
 */
@Injectable()
export class PreSendChecks {
  private readonly captcha?: CaptchaVerifier;
  private readonly hook?: SendHook;
  private readonly onHookFailure: HookFailure;

  constructor(
    private readonly settings: PreSendSettings,
    app: AppSettings,
    private readonly guard: SmsFraudGuard,
    private readonly metrics: PreSendMetrics,
    private readonly clock: Clock,
    private readonly outages: DependencyOutages,
    private readonly logger: AppLogger,
  ) {
    logger.setContext(PreSendChecks.name);
    const { captchaProvider, captchaSecret, hookUrl, hookSecret } = settings;
    if (captchaProvider !== 'none' && captchaSecret) {
      this.captcha = new CaptchaVerifier({
        provider: captchaProvider,
        secret: captchaSecret,
        minScore: settings.captchaMinScore,
        timeoutMs: settings.captchaTimeoutMs,
        url: settings.captchaVerifyUrl,
      });
    }
    if (hookUrl && hookSecret) {
      this.hook = new SendHook({ url: hookUrl, secret: hookSecret, timeoutMs: settings.hookTimeoutMs });
    }
    this.onHookFailure = settings.hookFailure(app.production);
  }

  get enabled(): boolean {
    return this.captcha !== undefined || this.hook !== undefined;
  }

  /** Throws for a missing token (400) or a provider that cannot answer (503); returns a veto as a block. */
  async judge(subject: SendSubject): Promise<PreSendVerdict> {
    const refused = await this.checkCaptcha(subject);
    if (refused) return { blocked: refused };
    return this.askHook(subject);
  }

  private async checkCaptcha({ caller, user, phone, origin }: SendSubject): Promise<FraudBlock | undefined> {
    if (!this.captcha) return undefined;
    const token = origin?.captchaToken;
    if (!token) {
      if (!captchaRequired(this.settings.captchaRequiredFor, caller.userId === user.id)) {
        this.metrics.captcha('not_required');
        return undefined;
      }
      this.metrics.captcha('missing');
      throw PhoneErrors.captchaRequired();
    }
    const verdict = await this.called('captcha', () => this.captcha!.verify(token, origin?.clientAddress));
    if (verdict instanceof DependencyError) {
      this.metrics.captcha('unavailable');
      throw verdict;
    }
    if (verdict.ok) {
      this.metrics.captcha('pass');
      return undefined;
    }
    this.metrics.captcha(verdict.why);
    return this.block(PhoneErrors.captchaFailed(verdict.why, this.captcha.provider), 'captcha', verdict.why, phone);
  }

  private async askHook({ caller, user, phone, use, origin }: SendSubject): Promise<PreSendVerdict> {
    if (!this.hook) return {};
    const now = this.clock.now();
    // the guard's counts are advisory here: read on their own, a failure only leaves them out
    const fraud = await this.guard.assess(phone, origin, now).catch(() => undefined);
    const context: SendContext = {
      type: 'phone.code.send',
      time: now.toISOString(),
      use,
      requestId: origin?.requestId,
      org: user.orgId,
      user: user.id,
      selfService: caller.userId === user.id,
      country: phone.country ?? null,
      prefix: numberPrefix(phone.e164),
      clientAddress: origin?.clientAddress ?? 'unknown',
      fraud,
    };
    const answer = await this.called('send_hook', () => this.hook!.ask(context, Math.floor(now.getTime() / 1000)));
    if (answer instanceof DependencyError) {
      if (this.onHookFailure === 'fail-closed') {
        this.metrics.hook('failed_closed');
        throw answer;
      }
      this.metrics.hook('failed_open');
      this.logger.warn(
        { dependency: 'send_hook', cause: describeCause(answer.cause) },
        'send hook failed: sending (fail-open)',
      );
      return {};
    }
    if (answer.action === 'allow') {
      this.metrics.hook(answer.channel ? 'channel' : 'allow');
      return { channel: answer.channel };
    }
    this.metrics.hook(answer.retryAfterMs === undefined ? 'deny' : 'rate');
    const error = PhoneErrors.sendHookDenied(answer.reason, answer.retryAfterMs);
    return { blocked: this.block(error, 'send_hook', answer.reason, phone) };
  }

  /** The call's answer, or its DependencyError (answered as 503 and logged as an outage where thrown). */
  private async called<T>(dependency: 'captcha' | 'send_hook', call: () => Promise<T>): Promise<T | DependencyError> {
    try {
      const answer = await call();
      this.outages.succeeded(dependency);
      return answer;
    } catch (error) {
      return error instanceof DependencyError ? error : new DependencyError(dependency, error);
    }
  }

  private block(
    error: FraudBlock['error'],
    rule: 'captcha' | 'send_hook',
    reason: string,
    phone: ParsedPhone,
  ): FraudBlock {
    return {
      error,
      event: {
        type: PhoneEvents.codeSendBlocked,
        payload: { rule, reason, country: phone.country ?? 'unknown', prefix: numberPrefix(phone.e164) },
      },
    };
  }
}
