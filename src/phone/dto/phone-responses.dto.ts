import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { DetailsDto } from '../../common/docs/details.dto';

// The phone responses of zitadel.user.v2 as protobuf JSON (documentation classes of the REST answers).

export class SetPhoneResponseDto {
  @ApiProperty({ type: DetailsDto })
  details: DetailsDto;
  @ApiPropertyOptional({ description: 'only with returnCode', example: '123456' })
  verificationCode?: string;
}

export class ResendPhoneCodeResponseDto extends SetPhoneResponseDto {}

export class VerifyPhoneResponseDto {
  @ApiProperty({ type: DetailsDto })
  details: DetailsDto;
}

export class RemovePhoneResponseDto extends VerifyPhoneResponseDto {}
