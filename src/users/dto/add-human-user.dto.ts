import { ApiPropertyOptional } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import { IsObject, IsOptional, IsString, ValidateNested } from 'class-validator';
import { CodePointLength } from '../../common/validation/validators';
import { OrganizationRefDto } from './common.dto';
import { CreateHumanDto } from './create-user.dto';
import { ProtoMessage } from '../../common/validation/proto-message';
import { CHOSEN_ID, CHOSEN_ID_RULE, ChosenId } from '../../common/ids/chosen-id';

/** AddHumanUserRequest: the human of CreateUser (profile, email, phone) plus its own ids and organization. */
@ProtoMessage('zitadel.user.v2.AddHumanUserRequest')
export class AddHumanUserDto extends CreateHumanDto {
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

  @ApiPropertyOptional({ type: OrganizationRefDto })
  @IsOptional()
  @IsObject()
  @ValidateNested()
  @Type(() => OrganizationRefDto)
  organization?: OrganizationRefDto;
}
