import { AppError } from '../common/errors/app-error';
import { GrpcStatus } from '../common/errors/grpc-status';

/** The phone-path catalogue of contract §6. */
export const PhoneErrors = {
  phoneNotFound: () => new AppError(GrpcStatus.NOT_FOUND, 'COMMAND-ieJ2e', 'Phone not found'),
  noPhoneToRemove: () => new AppError(GrpcStatus.FAILED_PRECONDITION, 'COMMAND-ieJ2e', 'Phone not found'),
  invalidNumber: (why: string) =>
    new AppError(GrpcStatus.INVALID_ARGUMENT, 'PHONE-so0wa', `Phone is invalid: ${why}`, {
      info: { reason: 'PHONE_INVALID', metadata: { why } },
    }),
  notChanged: () => new AppError(GrpcStatus.FAILED_PRECONDITION, 'COMMAND-Uch5e', 'Phone not changed'),
  codeEmpty: () => new AppError(GrpcStatus.FAILED_PRECONDITION, 'PHONE-5xrra88eq8', 'Code is empty'),
  wrongCode: (attemptsLeft: number) =>
    new AppError(
      GrpcStatus.INVALID_ARGUMENT,
      'COMMAND-eis9R',
      attemptsLeft > 0
        ? `Code is invalid, ${attemptsLeft} attempt${attemptsLeft === 1 ? '' : 's'} left`
        : 'Code is invalid, no attempts left: request a new code',
      { info: { reason: 'CODE_INVALID', metadata: { attemptsRemaining: String(attemptsLeft) } } },
    ),
  expired: () => new AppError(GrpcStatus.INVALID_ARGUMENT, 'CODE-QvUQ4P', 'Code is expired'),
  noCodePending: () => new AppError(GrpcStatus.FAILED_PRECONDITION, 'COMMAND-2M9fs', 'Code not found'),
  /** cannot happen while a check's claim holds the code's row; the check is then rolled back as a whole */
  consumedConcurrently: () =>
    new AppError(GrpcStatus.ABORTED, 'CODE-c0nsum', 'The code was used concurrently, try again'),
  attemptsExhausted: () =>
    new AppError(GrpcStatus.RESOURCE_EXHAUSTED, 'PHONE-attempts', 'Too many attempts, request a new code', {
      info: { reason: 'ATTEMPTS_EXHAUSTED', metadata: { attemptsRemaining: '0' } },
    }),
  /** return_code with PHONE_VERIFIER delegating: the provider draws and keeps the code, there is none to return. */
  codeHeldByProvider: (verifier: string) =>
    new AppError(
      GrpcStatus.FAILED_PRECONDITION,
      'PHONE-dlg8ted',
      `return_code is not available: codes are drawn and checked by the verification provider (${verifier})`,
      { info: { reason: 'CODE_HELD_BY_PROVIDER', metadata: { verifier } } },
    ),
  smsRefused: (why: string) =>
    new AppError(GrpcStatus.INVALID_ARGUMENT, 'PHONE-n0sms', `No SMS can be sent to this number: ${why}`, {
      info: { reason: 'SMS_REFUSED', metadata: { why } },
    }),
  rateLimited: (retryAfterMs: number, limit: string) =>
    new AppError(GrpcStatus.RESOURCE_EXHAUSTED, 'PHONE-ratelimit', 'Try again later', {
      retryAfterMs,
      info: { reason: 'RATE_LIMITED', metadata: { limit, retryAfterSeconds: String(Math.ceil(retryAfterMs / 1000)) } },
    }),
  /** A delivery receipt for a provider that has none here (not configured, or receipts are off). */
  receiptsOff: (provider: string) =>
    new AppError(GrpcStatus.NOT_FOUND, 'PHONE-rcpt0ff', `No delivery receipts are taken for provider "${provider}"`, {
      info: { reason: 'RECEIPTS_OFF', metadata: { provider } },
    }),
  /** A delivery receipt whose signature (or timestamp) does not hold. */
  receiptNotAuthentic: (why: string) =>
    new AppError(GrpcStatus.UNAUTHENTICATED, 'PHONE-rcpts1g', `Delivery receipt refused: ${why}`, {
      info: { reason: 'RECEIPT_SIGNATURE', metadata: { why } },
    }),
  /** An authentic delivery receipt whose body cannot be read. */
  receiptMalformed: (why: string) =>
    new AppError(GrpcStatus.INVALID_ARGUMENT, 'PHONE-rcptbad', `Delivery receipt malformed: ${why}`, {
      info: { reason: 'RECEIPT_MALFORMED', metadata: { why } },
    }),
  /** The pumping guard (SMS_FRAUD_MODE=enforce) refused the send; `rule` names the rule that was broken. */
  smsPumping: (rule: string) =>
    new AppError(
      GrpcStatus.RESOURCE_EXHAUSTED,
      'PHONE-pump1ng',
      'Too many codes sent to this destination were not verified, try again later',
      { info: { reason: `SMS_PUMPING_${rule.toUpperCase()}`, metadata: { rule } } },
    ),
  spendCap: (cap: string) =>
    new AppError(GrpcStatus.RESOURCE_EXHAUSTED, 'PHONE-sp3ndcap', 'The SMS spending cap is reached, try again later', {
      info: { reason: 'SPEND_CAP', metadata: { cap } },
    }),
  /** CAPTCHA_REQUIRED_FOR asks this caller for `x-captcha-token` and it sent none: a missing input, as Firebase answers it. */
  captchaRequired: () =>
    new AppError(GrpcStatus.INVALID_ARGUMENT, 'PHONE-capt0req', 'A CAPTCHA token is required (x-captcha-token)', {
      info: { reason: 'CAPTCHA_REQUIRED', metadata: { header: 'x-captcha-token' } },
    }),
  /** The CAPTCHA provider did not accept the token (`why`: invalid or score). */
  captchaFailed: (why: 'invalid' | 'score', provider: string) =>
    new AppError(GrpcStatus.PERMISSION_DENIED, 'PHONE-capt0bad', 'The CAPTCHA token was not accepted', {
      info: { reason: 'CAPTCHA_FAILED', metadata: { why, provider } },
    }),
  /** SEND_HOOK_URL refused the send; with a retry hint it is a rate limit (429), else a refusal (403). */
  sendHookDenied: (reason: string, retryAfterMs?: number) =>
    retryAfterMs === undefined
      ? new AppError(GrpcStatus.PERMISSION_DENIED, 'PHONE-h00kdeny', 'The send was refused', {
          info: { reason: 'SEND_HOOK_DENIED', metadata: { reason } },
        })
      : new AppError(GrpcStatus.RESOURCE_EXHAUSTED, 'PHONE-h00kdeny', 'The send was refused, try again later', {
          retryAfterMs,
          info: {
            reason: 'SEND_HOOK_DENIED',
            metadata: { reason, retryAfterSeconds: String(Math.ceil(retryAfterMs / 1000)) },
          },
        }),
};
