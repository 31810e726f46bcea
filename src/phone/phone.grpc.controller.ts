import { Controller } from '@nestjs/common';
import { GrpcMethod } from '@nestjs/microservices';
import type { CallerRef } from '../common/auth/caller-ref';
import { CurrentCaller } from '../common/auth/caller.decorator';
import { Origin, type RequestOrigin } from '../common/throttle/client-address';
import { detailsMessage } from '../common/proto/details';
import { toProtoMessage } from '../common/proto/proto-json';
import { ProtoRequest } from '../common/validation/proto-request.decorator';
import {
  RemovePhoneRequestDto,
  ResendPhoneCodeRequestDto,
  SetPhoneRequestDto,
  verificationOf,
  VerifyPhoneRequestDto,
} from './dto/phone-requests.dto';
import { PhoneVerificationService } from './phone-verification.service';

/** gRPC adapter of zitadel.user.v2.UserService's phone methods (gRPC-web and Connect reach it in process). */
@Controller()
export class PhoneGrpcController {
  constructor(private readonly phones: PhoneVerificationService) {}

  @GrpcMethod('UserService', 'SetPhone')
  async setPhone(
    @ProtoRequest() req: SetPhoneRequestDto,
    @CurrentCaller() caller: CallerRef,
    @Origin() origin: RequestOrigin,
  ) {
    const result = await this.phones.setPhone(caller, req.userId, req.phone, verificationOf(req), origin);
    return toProtoMessage({ details: detailsMessage(result.details), verificationCode: result.verificationCode });
  }

  @GrpcMethod('UserService', 'ResendPhoneCode')
  async resendPhoneCode(
    @ProtoRequest() req: ResendPhoneCodeRequestDto,
    @CurrentCaller() caller: CallerRef,
    @Origin() origin: RequestOrigin,
  ) {
    const result = await this.phones.resendCode(caller, req.userId, verificationOf(req), origin);
    return toProtoMessage({ details: detailsMessage(result.details), verificationCode: result.verificationCode });
  }

  @GrpcMethod('UserService', 'VerifyPhone')
  async verifyPhone(
    @ProtoRequest() req: VerifyPhoneRequestDto,
    @CurrentCaller() caller: CallerRef,
    @Origin() origin: RequestOrigin,
  ) {
    return toProtoMessage({
      details: detailsMessage(await this.phones.verifyPhone(caller, req.userId, req.verificationCode, origin)),
    });
  }

  @GrpcMethod('UserService', 'RemovePhone')
  async removePhone(
    @ProtoRequest() req: RemovePhoneRequestDto,
    @CurrentCaller() caller: CallerRef,
    @Origin() origin: RequestOrigin,
  ) {
    return toProtoMessage({ details: detailsMessage(await this.phones.removePhone(caller, req.userId, origin)) });
  }
}
