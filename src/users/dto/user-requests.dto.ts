import { ApiPropertyOptional } from '@nestjs/swagger';
import { IsDateString, IsOptional } from 'class-validator';
import { UserIdField } from '../../common/validation/wire-fields';
import { ProtoMessage } from '../../common/validation/proto-message';

/** GetUserByID, Deactivate/Reactivate/Lock/Unlock/DeleteUser: just the user (their messages are alike: `string user_id = 1`). */
@ProtoMessage('zitadel.user.v2.GetUserByIDRequest')
export class UserIdRequestDto {
  @UserIdField()
  userId: string;
}

@ProtoMessage('zitadel.user.v2.AddPersonalAccessTokenRequest')
export class AddPersonalAccessTokenDto {
  @UserIdField()
  userId: string;

  @ApiPropertyOptional({ description: 'RFC 3339; defaults to 9999-12-31', example: '2030-01-01T00:00:00Z' })
  @IsOptional()
  @IsDateString({ strict: true }, { message: 'expirationDate must be an RFC 3339 timestamp' })
  expirationDate?: string;
}
