import { Controller, Delete, HttpCode, Post } from '@nestjs/common';
import { ApiTags } from '@nestjs/swagger';
import type { CallerRef } from '../common/auth/caller-ref';
import { CurrentCaller } from '../common/auth/caller.decorator';
import { Origin, type RequestOrigin } from '../common/throttle/client-address';
import { detailsMessage } from '../common/proto/details';
import { toProtoJson } from '../common/proto/proto-json';
import { ProtoRequest } from '../common/validation/proto-request.decorator';
import {
  RemovePhoneRequestDto,
  ResendPhoneCodeRequestDto,
  SetPhoneRequestDto,
  verificationOf,
  VerifyPhoneRequestDto,
} from './dto/phone-requests.dto';
import { PhoneDocs } from './phone.docs';
import { PhoneVerificationService } from './phone-verification.service';

/** REST adapter of zitadel.user.v2.UserService's phone methods. */
@ApiTags('Phone')
@Controller('v2/users/:userId/phone')
export class PhoneController {
  constructor(private readonly phones: PhoneVerificationService) {}

  @Post()
  @HttpCode(200)
  @PhoneDocs.setPhone()
  async setPhone(
    @CurrentCaller() caller: CallerRef,
    @ProtoRequest() req: SetPhoneRequestDto,
    @Origin() origin: RequestOrigin,
  ) {
    const result = await this.phones.setPhone(caller, req.userId, req.phone, verificationOf(req), origin);
    return toProtoJson({ details: detailsMessage(result.details), verificationCode: result.verificationCode });
  }

  @Post('resend')
  @HttpCode(200)
  @PhoneDocs.resendPhoneCode()
  async resendPhoneCode(
    @CurrentCaller() caller: CallerRef,
    @ProtoRequest() req: ResendPhoneCodeRequestDto,
    @Origin() origin: RequestOrigin,
  ) {
    const result = await this.phones.resendCode(caller, req.userId, verificationOf(req), origin);
    return toProtoJson({ details: detailsMessage(result.details), verificationCode: result.verificationCode });
  }

  @Post('verify')
  @HttpCode(200)
  @PhoneDocs.verifyPhone()
  async verifyPhone(
    @CurrentCaller() caller: CallerRef,
    @ProtoRequest() req: VerifyPhoneRequestDto,
    @Origin() origin: RequestOrigin,
  ) {
    return toProtoJson({
      details: detailsMessage(await this.phones.verifyPhone(caller, req.userId, req.verificationCode, origin)),
    });
  }

  @Delete()
  @PhoneDocs.removePhone()
  async removePhone(
    @CurrentCaller() caller: CallerRef,
    @ProtoRequest() req: RemovePhoneRequestDto,
    @Origin() origin: RequestOrigin,
  ) {
    return toProtoJson({ details: detailsMessage(await this.phones.removePhone(caller, req.userId, origin)) });
  }
}
