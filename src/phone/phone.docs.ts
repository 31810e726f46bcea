import { applyDecorators } from '@nestjs/common';
import { OmitType } from '@nestjs/swagger';
import { ApiRpc, COMMON_ERRORS, DETAILS_EXAMPLE, DocError, RequestBody } from '../common/docs/api-rpc.decorator';
import { RETRY_INFO_TYPE } from '../common/errors/app-error';
import { IDEMPOTENCY_HEADER, withIdempotencyErrors } from '../common/docs/idempotency.docs';
import {
  RemovePhoneResponseDto,
  ResendPhoneCodeResponseDto,
  SetPhoneResponseDto,
  VerifyPhoneResponseDto,
} from './dto/phone-responses.dto';
import {
  RemovePhoneRequestDto,
  ResendPhoneCodeRequestDto,
  SetPhoneRequestDto,
  VerifyPhoneRequestDto,
} from './dto/phone-requests.dto';

// REST bodies: the request messages without userId, which comes from the path (and wins over the body)
class SetPhoneBody extends OmitType(SetPhoneRequestDto, ['userId'] as const) {}
class ResendPhoneCodeBody extends OmitType(ResendPhoneCodeRequestDto, ['userId'] as const) {}
class VerifyPhoneBody extends OmitType(VerifyPhoneRequestDto, ['userId'] as const) {}
class RemovePhoneBody extends OmitType(RemovePhoneRequestDto, ['userId'] as const) {}

const notFound: DocError = {
  status: 404,
  // ZITADEL's answer (contract §6): the user's absence is told as its phone's
  description: 'the user does not exist, was deleted, or is a machine user: answered "Phone not found" as ZITADEL does',
  examples: { userMissing: { code: 5, id: 'COMMAND-ieJ2e', text: 'Phone not found' } },
};
const validation = (examples: DocError['examples']): DocError => ({
  status: 400,
  description: 'invalid request, or a rule of the method is not met',
  examples: {
    validation: {
      code: 3,
      id: 'VALIDATION-1nv4l',
      text: 'invalid request: verificationCode: verificationCode must be between 1 and 20 characters long',
    },
    ...examples,
  },
});
const rateLimited = (examples: DocError['examples']): DocError => ({
  status: 429,
  description: 'a limit was reached; see Retry-After',
  examples: {
    rateLimited: {
      code: 8,
      id: 'PHONE-ratelimit',
      text: 'Try again later',
      extra: [{ '@type': RETRY_INFO_TYPE, retryDelay: '60s' }],
    },
    ...examples,
  },
});

/** The pre-send checks' answers to a send (docs/pre-send-checks.md), beside each status's own. */
const captchaRequired = { code: 3, id: 'PHONE-capt0req', text: 'A CAPTCHA token is required (x-captcha-token)' };
const vetoed: DocError = {
  ...COMMON_ERRORS.forbidden,
  description: 'the caller lacks the permission, the CAPTCHA token was refused, or the send hook denied the send',
  examples: {
    ...COMMON_ERRORS.forbidden.examples,
    captchaFailed: { code: 7, id: 'PHONE-capt0bad', text: 'The CAPTCHA token was not accepted' },
    sendHookDenied: { code: 7, id: 'PHONE-h00kdeny', text: 'The send was refused' },
  },
};
const hookRateLimited = {
  code: 8,
  id: 'PHONE-h00kdeny',
  text: 'The send was refused, try again later',
  extra: [{ '@type': RETRY_INFO_TYPE, retryDelay: '120s' }],
};
const CAPTCHA_HEADER = {
  name: 'x-captcha-token',
  required: false,
  description:
    "the CAPTCHA widget's token for a send (`sendCode` or default) when CAPTCHA_PROVIDER is set; required of the callers CAPTCHA_REQUIRED_FOR names (docs/pre-send-checks.md)",
};

/** Swagger of the four phone routes. */
export const PhoneDocs = {
  setPhone: () =>
    ApiRpc({
      service: 'UserService',
      method: 'SetPhone',
      response: SetPhoneResponseDto,
      summary: 'Set the phone number of a user',
      description:
        'Stores the number as E.164 and starts its verification: by default a code is sent by SMS; ' +
        '`returnCode` returns it instead and `isVerified` skips verification (both need user.write, never for self).',
      body: SetPhoneBody,
      bodyExamples: {
        sendCode: { phone: '+41791234567', sendCode: {} },
        returnCode: { phone: '+41791234567', returnCode: {} },
        isVerified: { phone: '+41791234567', isVerified: true },
      },
      userIdParam: true,
      headers: [CAPTCHA_HEADER, IDEMPOTENCY_HEADER],
      example: { details: DETAILS_EXAMPLE, verificationCode: '123456' },
      errors: withIdempotencyErrors('SetPhone', [
        validation({
          invalidNumber: { code: 3, id: 'PHONE-so0wa', text: 'Phone is invalid' },
          notChanged: { code: 9, id: 'COMMAND-Uch5e', text: 'Phone not changed' },
          captchaRequired,
        }),
        COMMON_ERRORS.unauthenticated,
        vetoed,
        notFound,
        rateLimited({ sendHookRateLimited: hookRateLimited }),
      ]),
    }),
  resendPhoneCode: () =>
    ApiRpc({
      service: 'UserService',
      method: 'ResendPhoneCode',
      response: ResendPhoneCodeResponseDto,
      summary: 'Replace the pending code with a new one',
      description: 'The old code stops working. Sends an SMS by default; `returnCode` needs user.write.',
      body: ResendPhoneCodeBody,
      bodyExamples: { sendCode: { sendCode: {} }, returnCode: { returnCode: {} } },
      userIdParam: true,
      headers: [CAPTCHA_HEADER, IDEMPOTENCY_HEADER],
      example: { details: DETAILS_EXAMPLE, verificationCode: '654321' },
      errors: withIdempotencyErrors('ResendPhoneCode', [
        validation({ codeEmpty: { code: 9, id: 'PHONE-5xrra88eq8', text: 'Code is empty' }, captchaRequired }),
        COMMON_ERRORS.unauthenticated,
        vetoed,
        notFound,
        rateLimited({ sendHookRateLimited: hookRateLimited }),
      ]),
    }),
  verifyPhone: () =>
    ApiRpc({
      service: 'UserService',
      method: 'VerifyPhone',
      response: VerifyPhoneResponseDto,
      summary: 'Verify the phone number with the code',
      description:
        "Self, or user.write on the user's organization. Each code allows a limited number of attempts; " +
        'the error says which failure it was and how many attempts remain.',
      body: VerifyPhoneBody,
      bodyExamples: { code: { verificationCode: '123456' } },
      userIdParam: true,
      example: { details: DETAILS_EXAMPLE },
      errors: [
        validation({
          wrongCode: {
            code: 3,
            id: 'COMMAND-eis9R',
            text: 'Code is invalid, 4 attempts left',
            extra: [
              {
                '@type': 'type.googleapis.com/google.rpc.ErrorInfo',
                reason: 'CODE_INVALID',
                domain: 'phone-verify',
                metadata: { attemptsRemaining: '4' },
              },
            ],
          },
          expired: { code: 3, id: 'CODE-QvUQ4P', text: 'Code is expired' },
          noCode: { code: 9, id: 'COMMAND-2M9fs', text: 'Code not found' },
        }),
        COMMON_ERRORS.unauthenticated,
        COMMON_ERRORS.forbidden,
        notFound,
        rateLimited({ attempts: { code: 8, id: 'PHONE-attempts', text: 'Too many attempts, request a new code' } }),
      ],
    }),
  removePhone: () =>
    applyDecorators(
      RequestBody(RemovePhoneBody, { empty: {} }, { required: false, description: 'empty, or omitted' }),
      ApiRpc({
        service: 'UserService',
        method: 'RemovePhone',
        response: RemovePhoneResponseDto,
        summary: 'Remove the phone number of a user',
        userIdParam: true,
        example: { details: DETAILS_EXAMPLE },
        errors: [
          validation({ noPhone: { code: 9, id: 'COMMAND-ieJ2e', text: 'Phone not found' } }),
          COMMON_ERRORS.unauthenticated,
          COMMON_ERRORS.forbidden,
          notFound,
        ],
      }),
    ),
};
