import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import { IsDefined, IsObject, IsOptional, IsString, ValidateIf, ValidateNested } from 'class-validator';
import { CodePointLength, OneOf } from '../../common/validation/validators';
import { SetHumanEmailDto, SetHumanPhoneDto, SetHumanProfileDto } from './common.dto';
import { ProtoMessage } from '../../common/validation/proto-message';
import { CHOSEN_ID, CHOSEN_ID_RULE, ChosenId } from '../../common/ids/chosen-id';

export class CreateHumanDto {
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

export class CreateMachineDto {
  @ApiProperty({ minLength: 1, maxLength: 200 })
  @IsString()
  @CodePointLength(1, 200)
  name: string;

  @ApiPropertyOptional({ maxLength: 500 })
  @IsOptional()
  @IsString()
  @CodePointLength(0, 500)
  description?: string;
}

const USER_TYPE = ['human', 'machine'];

@ProtoMessage('zitadel.user.v2.CreateUserRequest')
export class CreateUserDto {
  @ApiProperty({ minLength: 1, maxLength: 200 })
  @IsString()
  @CodePointLength(1, 200)
  organizationId: string;

  @ApiPropertyOptional({
    maxLength: 200,
    pattern: CHOSEN_ID.source,
    description: `only an IAM_OWNER may choose it; ${CHOSEN_ID_RULE}`,
  })
  @IsOptional()
  @IsString()
  @ChosenId()
  userId?: string;

  @ApiPropertyOptional({ maxLength: 200 })
  @IsOptional()
  @IsString()
  @CodePointLength(1, 200)
  username?: string;

  @ApiPropertyOptional({ type: CreateHumanDto })
  // required when machine is absent; checked (oneof included) whenever it is present
  @ValidateIf((o: CreateUserDto) => o.machine === undefined || o.human !== undefined)
  @IsDefined({ message: 'one of human or machine must be set' })
  @IsObject()
  @ValidateNested()
  @Type(() => CreateHumanDto)
  @OneOf(USER_TYPE)
  human?: CreateHumanDto;

  @ApiPropertyOptional({ type: CreateMachineDto })
  @IsOptional()
  @IsObject()
  @ValidateNested()
  @Type(() => CreateMachineDto)
  @OneOf(USER_TYPE)
  machine?: CreateMachineDto;
}
