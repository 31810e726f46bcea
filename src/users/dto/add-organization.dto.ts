import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import { ArrayMaxSize, IsArray, IsIn, IsObject, IsOptional, IsString, ValidateNested } from 'class-validator';
import { ROLES } from '../../common/auth/caller';
import { CodePointLength, OneOf } from '../../common/validation/validators';
import { AddHumanUserDto } from './add-human-user.dto';
import { ProtoMessage } from '../../common/validation/proto-message';
import { CHOSEN_ID, CHOSEN_ID_RULE, ChosenId } from '../../common/ids/chosen-id';

const ADMIN_TYPE = ['userId', 'human'];

export class OrganizationAdminDto {
  @ApiPropertyOptional()
  @IsOptional()
  @IsString()
  @CodePointLength(1, 200)
  @OneOf(ADMIN_TYPE)
  userId?: string;

  @ApiPropertyOptional({ type: AddHumanUserDto })
  @IsOptional()
  @IsObject()
  @ValidateNested()
  @Type(() => AddHumanUserDto)
  @OneOf(ADMIN_TYPE)
  human?: AddHumanUserDto;

  @ApiPropertyOptional({ type: [String], enum: ROLES.filter((r) => r !== 'IAM_OWNER'), default: ['ORG_OWNER'] })
  @IsOptional()
  @IsArray()
  @ArrayMaxSize(10)
  @IsIn(ROLES.filter((r) => r !== 'IAM_OWNER'), { each: true })
  roles?: string[];
}

@ProtoMessage('zitadel.org.v2.AddOrganizationRequest')
export class AddOrganizationDto {
  @ApiProperty({ minLength: 1, maxLength: 200, example: 'ACME' })
  @IsString()
  @CodePointLength(1, 200)
  name: string;

  @ApiPropertyOptional({ type: [OrganizationAdminDto] })
  @IsOptional()
  @IsArray()
  @ArrayMaxSize(20)
  @ValidateNested({ each: true })
  @Type(() => OrganizationAdminDto)
  admins?: OrganizationAdminDto[];

  @ApiPropertyOptional({ deprecated: true, description: 'use organizationId', pattern: CHOSEN_ID.source })
  @IsOptional()
  @IsString()
  @ChosenId()
  orgId?: string;

  @ApiPropertyOptional({ maxLength: 200, pattern: CHOSEN_ID.source, description: CHOSEN_ID_RULE })
  @IsOptional()
  @IsString()
  @ChosenId()
  organizationId?: string;
}
