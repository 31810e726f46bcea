import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { DetailsDto } from '../../common/docs/details.dto';
import { GENDERS } from './common.dto';

// The user and organization responses as protobuf JSON (documentation classes of the REST answers):
// camelCase names, uint64 as strings, Timestamps as RFC 3339, enums by name.

const ID = '69629026806489455';
const TIME = { format: 'date-time', example: '2024-11-22T16:27:04.996Z' };
const USER_STATES = [
  'USER_STATE_UNSPECIFIED',
  'USER_STATE_ACTIVE',
  'USER_STATE_INACTIVE',
  'USER_STATE_DELETED',
  'USER_STATE_LOCKED',
  'USER_STATE_INITIAL',
];

export class AddHumanUserResponseDto {
  @ApiProperty({ example: ID })
  userId: string;
  @ApiProperty({ type: DetailsDto })
  details: DetailsDto;
  @ApiPropertyOptional({ description: 'only with email.returnCode' })
  emailCode?: string;
  @ApiPropertyOptional({ description: 'only with phone.returnCode', example: '123456' })
  phoneCode?: string;
}

export class CreateUserResponseDto {
  @ApiProperty({ example: ID })
  id: string;
  @ApiProperty(TIME)
  creationDate: string;
  @ApiPropertyOptional({ description: 'only with email.returnCode' })
  emailCode?: string;
  @ApiPropertyOptional({ description: 'only with phone.returnCode' })
  phoneCode?: string;
}

export class HumanProfileDto {
  @ApiProperty({ example: 'Minnie' })
  givenName: string;
  @ApiProperty({ example: 'Mouse' })
  familyName: string;
  @ApiPropertyOptional()
  nickName?: string;
  @ApiPropertyOptional({ example: 'Minnie Mouse' })
  displayName?: string;
  @ApiPropertyOptional({ example: 'en' })
  preferredLanguage?: string;
  @ApiPropertyOptional({ enum: GENDERS })
  gender?: string;
}

export class HumanEmailDto {
  @ApiProperty({ example: 'minnie@mouse.com' })
  email: string;
  @ApiPropertyOptional()
  isVerified?: boolean;
}

export class HumanPhoneDto {
  @ApiPropertyOptional({ description: 'E.164, empty when none is set', example: '+41791234567' })
  phone?: string;
  @ApiPropertyOptional()
  isVerified?: boolean;
}

export class HumanUserDto {
  @ApiProperty({ type: HumanProfileDto })
  profile: HumanProfileDto;
  @ApiProperty({ type: HumanEmailDto })
  email: HumanEmailDto;
  @ApiPropertyOptional({ type: HumanPhoneDto })
  phone?: HumanPhoneDto;
}

export class MachineUserDto {
  @ApiProperty()
  name: string;
  @ApiPropertyOptional()
  description?: string;
}

export class UserDto {
  @ApiProperty({ example: ID })
  userId: string;
  @ApiProperty({ type: DetailsDto })
  details: DetailsDto;
  @ApiProperty({ enum: USER_STATES, example: 'USER_STATE_ACTIVE' })
  state: string;
  @ApiProperty({ example: 'minnie@mouse.com' })
  username: string;
  @ApiProperty({ type: [String], example: ['minnie@mouse.com@acme.localhost'] })
  loginNames: string[];
  @ApiProperty({ example: 'minnie@mouse.com@acme.localhost' })
  preferredLoginName: string;
  @ApiPropertyOptional({ type: HumanUserDto, description: 'set for a human user (one of human, machine)' })
  human?: HumanUserDto;
  @ApiPropertyOptional({ type: MachineUserDto, description: 'set for a machine user' })
  machine?: MachineUserDto;
}

export class GetUserByIDResponseDto {
  @ApiProperty({ type: DetailsDto })
  details: DetailsDto;
  @ApiProperty({ type: UserDto })
  user: UserDto;
}

/** The answer of the state changes and DeleteUser: only the details. */
export class UserChangeResponseDto {
  @ApiProperty({ type: DetailsDto })
  details: DetailsDto;
}
export class DeactivateUserResponseDto extends UserChangeResponseDto {}
export class ReactivateUserResponseDto extends UserChangeResponseDto {}
export class LockUserResponseDto extends UserChangeResponseDto {}
export class UnlockUserResponseDto extends UserChangeResponseDto {}
export class DeleteUserResponseDto extends UserChangeResponseDto {}

export class AddPersonalAccessTokenResponseDto {
  @ApiProperty(TIME)
  creationDate: string;
  @ApiProperty({ example: '69629026806489466' })
  tokenId: string;
  @ApiProperty({ description: 'shown once; only its SHA-256 is stored' })
  token: string;
}

export class CreatedAdminDto {
  @ApiProperty({ example: ID })
  userId: string;
  @ApiPropertyOptional()
  emailCode?: string;
  @ApiPropertyOptional()
  phoneCode?: string;
}

export class AddOrganizationResponseDto {
  @ApiProperty({ type: DetailsDto })
  details: DetailsDto;
  @ApiProperty({ example: '69629023906488334' })
  organizationId: string;
  // an empty list is left out, as protobuf JSON leaves out every default value
  @ApiPropertyOptional({ type: [CreatedAdminDto], description: 'the administrators created as new users, if any' })
  createdAdmins?: CreatedAdminDto[];
}
