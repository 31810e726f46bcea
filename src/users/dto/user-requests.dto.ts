import { ApiPropertyOptional } from '@nestjs/swagger';
import { IsDateString, IsOptional } from 'class-validator';
import { UserIdField } from './common.dto';

/** GetUserByID, Deactivate/Reactivate/Lock/Unlock/DeleteUser: just the user. */
export class UserIdRequestDto {
  @UserIdField()
  userId: string;
}

export class AddPersonalAccessTokenDto {
  @UserIdField()
  userId: string;

  @ApiPropertyOptional({ description: 'RFC 3339; defaults to 9999-12-31', example: '2030-01-01T00:00:00Z' })
  @IsOptional()
  @IsDateString({ strict: true }, { message: 'expirationDate must be an RFC 3339 timestamp' })
  expirationDate?: string;
}
