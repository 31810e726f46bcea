import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import { IsDefined, IsObject, IsOptional, IsString, ValidateNested } from 'class-validator';
import { CodePointLength } from '../../common/validation/validators';
import { OrganizationRefDto, SetHumanEmailDto, SetHumanPhoneDto, SetHumanProfileDto } from './common.dto';

export class AddHumanUserDto {
  @ApiPropertyOptional({ maxLength: 200 })
  @IsOptional()
  @IsString()
  @CodePointLength(1, 200)
  userId?: string;

  @ApiPropertyOptional({ maxLength: 200 })
  @IsOptional()
  @IsString()
  @CodePointLength(1, 200)
  username?: string;

  @ApiPropertyOptional({ type: OrganizationRefDto })
  @IsOptional()
  @IsObject()
  @ValidateNested()
  @Type(() => OrganizationRefDto)
  organization?: OrganizationRefDto;

  @ApiProperty({ type: SetHumanProfileDto })
  @IsDefined()
  @IsObject()
  @ValidateNested()
  @Type(() => SetHumanProfileDto)
  profile: SetHumanProfileDto;

  @ApiProperty({ type: SetHumanEmailDto })
  @IsDefined()
  @IsObject()
  @ValidateNested()
  @Type(() => SetHumanEmailDto)
  email: SetHumanEmailDto;

  @ApiPropertyOptional({ type: SetHumanPhoneDto })
  @IsOptional()
  @IsObject()
  @ValidateNested()
  @Type(() => SetHumanPhoneDto)
  phone?: SetHumanPhoneDto;
}
