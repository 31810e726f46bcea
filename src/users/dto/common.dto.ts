import { Type } from 'class-transformer';
import { Equals, IsBoolean, IsEmail, IsIn, IsObject, IsOptional, IsString, ValidateNested } from 'class-validator';
import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { CodePointLength, OneOf } from '../../common/validation/validators';
import { EmptyMessage } from '../../common/validation/wire-fields';

export const GENDERS = ['GENDER_UNSPECIFIED', 'GENDER_FEMALE', 'GENDER_MALE', 'GENDER_DIVERSE'] as const;
export type GenderName = (typeof GENDERS)[number];

export class SendEmailVerificationCodeDto {
  @ApiPropertyOptional({ maxLength: 200 })
  @IsOptional()
  @IsString()
  @CodePointLength(1, 200)
  urlTemplate?: string;
}

const EMAIL_ONEOF = ['sendCode', 'returnCode', 'isVerified'];

export class SetHumanEmailDto {
  @ApiProperty({ minLength: 1, maxLength: 200, example: 'mini@mouse.com' })
  @IsString()
  @CodePointLength(1, 200)
  @IsEmail({}, { message: 'email must be an email address' })
  email: string;

  @ApiPropertyOptional({ type: SendEmailVerificationCodeDto })
  @IsOptional()
  @IsObject()
  @ValidateNested()
  @Type(() => SendEmailVerificationCodeDto)
  @OneOf(EMAIL_ONEOF)
  sendCode?: SendEmailVerificationCodeDto;

  @ApiPropertyOptional({ type: Object, example: {} })
  @IsOptional()
  @IsObject()
  @OneOf(EMAIL_ONEOF)
  returnCode?: EmptyMessage;

  @ApiPropertyOptional()
  @IsOptional()
  @IsBoolean()
  @OneOf(EMAIL_ONEOF)
  isVerified?: boolean;
}

const PHONE_ONEOF = ['sendCode', 'returnCode', 'isVerified'];

/** The phone part of a new human user (SetHumanPhone): an empty number means no phone. */
export class SetHumanPhoneDto {
  @ApiPropertyOptional({ maxLength: 200, example: '+41791234567' })
  @IsOptional()
  @IsString()
  @CodePointLength(0, 200)
  phone?: string;

  @ApiPropertyOptional({ type: Object, example: {} })
  @IsOptional()
  @IsObject()
  @OneOf(PHONE_ONEOF)
  sendCode?: EmptyMessage;

  @ApiPropertyOptional({ type: Object, example: {} })
  @IsOptional()
  @IsObject()
  @OneOf(PHONE_ONEOF)
  returnCode?: EmptyMessage;

  @ApiPropertyOptional({ description: 'must be true when set' })
  @IsOptional()
  @IsBoolean()
  @Equals(true, { message: 'isVerified must be true when set' })
  @OneOf(PHONE_ONEOF)
  isVerified?: boolean;
}

export class SetHumanProfileDto {
  @ApiProperty({ minLength: 1, maxLength: 200, example: 'Minnie' })
  @IsString()
  @CodePointLength(1, 200)
  givenName: string;

  @ApiProperty({ minLength: 1, maxLength: 200, example: 'Mouse' })
  @IsString()
  @CodePointLength(1, 200)
  familyName: string;

  @ApiPropertyOptional({ maxLength: 200 })
  @IsOptional()
  @IsString()
  @CodePointLength(0, 200)
  nickName?: string;

  @ApiPropertyOptional({ maxLength: 200 })
  @IsOptional()
  @IsString()
  @CodePointLength(0, 200)
  displayName?: string;

  @ApiPropertyOptional({ maxLength: 10, example: 'en' })
  @IsOptional()
  @IsString()
  @CodePointLength(0, 10)
  preferredLanguage?: string;

  @ApiPropertyOptional({ enum: GENDERS })
  @IsOptional()
  @IsIn(GENDERS)
  gender?: GenderName;
}

const ORG_ONEOF = ['orgId', 'orgDomain'];

export class OrganizationRefDto {
  @ApiPropertyOptional()
  @IsOptional()
  @IsString()
  @CodePointLength(1, 200)
  @OneOf(ORG_ONEOF)
  orgId?: string;

  @ApiPropertyOptional()
  @IsOptional()
  @IsString()
  @CodePointLength(1, 200)
  @OneOf(ORG_ONEOF)
  orgDomain?: string;
}
