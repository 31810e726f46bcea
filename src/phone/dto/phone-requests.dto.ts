import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Equals, IsBoolean, IsObject, IsOptional, IsString } from 'class-validator';
import { CodePointLength, OneOf } from '../../common/validation/validators';
import type { Verification } from '../phone-verification.service';
import { ProtoMessage } from '../../common/validation/proto-message';
import { EmptyMessage, UserIdField } from '../../common/validation/wire-fields';

const VERIFICATION = ['sendCode', 'returnCode', 'isVerified'];
const RESEND = ['sendCode', 'returnCode'];

@ProtoMessage('zitadel.user.v2.SetPhoneRequest')
export class SetPhoneRequestDto {
  @UserIdField()
  userId: string;

  @ApiProperty({
    minLength: 1,
    maxLength: 200,
    example: '+41791234567',
    description: 'any format libphonenumber reads; stored as E.164',
  })
  @IsString()
  @CodePointLength(1, 200)
  phone: string;

  @ApiPropertyOptional({ type: Object, example: {}, description: 'send an SMS with the code (the default)' })
  @IsOptional()
  @IsObject()
  @OneOf(VERIFICATION)
  sendCode?: EmptyMessage;

  @ApiPropertyOptional({ type: Object, example: {}, description: 'return the code in the response (needs user.write)' })
  @IsOptional()
  @IsObject()
  @OneOf(VERIFICATION)
  returnCode?: EmptyMessage;

  @ApiPropertyOptional({
    description: 'mark the number verified without a code (needs user.write); must be true when set',
  })
  @IsOptional()
  @IsBoolean()
  @Equals(true, { message: 'isVerified must be true when set' })
  @OneOf(VERIFICATION)
  isVerified?: boolean;
}

@ProtoMessage('zitadel.user.v2.ResendPhoneCodeRequest')
export class ResendPhoneCodeRequestDto {
  @UserIdField()
  userId: string;

  @ApiPropertyOptional({ type: Object, example: {} })
  @IsOptional()
  @IsObject()
  @OneOf(RESEND)
  sendCode?: EmptyMessage;

  @ApiPropertyOptional({ type: Object, example: {}, description: 'return the code in the response (needs user.write)' })
  @IsOptional()
  @IsObject()
  @OneOf(RESEND)
  returnCode?: EmptyMessage;
}

@ProtoMessage('zitadel.user.v2.VerifyPhoneRequest')
export class VerifyPhoneRequestDto {
  @UserIdField()
  userId: string;

  @ApiProperty({ minLength: 1, maxLength: 20, example: '123456' })
  @IsString()
  @CodePointLength(1, 20)
  verificationCode: string;
}

@ProtoMessage('zitadel.user.v2.RemovePhoneRequest')
export class RemovePhoneRequestDto {
  @UserIdField()
  userId: string;
}

/** The oneof of SetPhone / ResendPhoneCode / SetHumanPhone as the service sees it. */
export function verificationOf(request: { returnCode?: object; isVerified?: boolean }): Verification {
  if (request.isVerified) return { kind: 'verified' };
  if (request.returnCode) return { kind: 'return' };
  return { kind: 'send' };
}
