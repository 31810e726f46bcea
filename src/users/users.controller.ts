import { Controller, Delete, Get, HttpCode, Post } from '@nestjs/common';
import { ApiTags } from '@nestjs/swagger';
import type { CallerRef } from '../common/auth/caller-ref';
import { CurrentCaller } from '../common/auth/caller.decorator';
import { Origin, type RequestOrigin } from '../common/throttle/client-address';
import { detailsMessage } from '../common/proto/details';
import { toProtoJson } from '../common/proto/proto-json';
import { ProtoRequest } from '../common/validation/proto-request.decorator';
import { AddHumanUserDto } from './dto/add-human-user.dto';
import { CreateUserDto } from './dto/create-user.dto';
import { AddPersonalAccessTokenDto, UserIdRequestDto } from './dto/user-requests.dto';
import { UserDocs } from './users.docs';
import { UsersService } from './users.service';

/** REST adapter of zitadel.user.v2.UserService's user methods. */
@ApiTags('Users')
@Controller('v2/users')
export class UsersController {
  constructor(private readonly users: UsersService) {}

  @Post('human')
  @HttpCode(200)
  @UserDocs.addHumanUser()
  async addHumanUser(
    @CurrentCaller() caller: CallerRef,
    @ProtoRequest() req: AddHumanUserDto,
    @Origin() origin: RequestOrigin,
  ) {
    const result = await this.users.addHuman(caller, req, origin);
    return toProtoJson({ ...result, details: detailsMessage(result.details) });
  }

  @Post('new')
  @HttpCode(200)
  @UserDocs.createUser()
  async createUser(
    @CurrentCaller() caller: CallerRef,
    @ProtoRequest() req: CreateUserDto,
    @Origin() origin: RequestOrigin,
  ) {
    return toProtoJson(await this.users.createUser(caller, req, origin));
  }

  @Get(':userId')
  @UserDocs.getUserById()
  async getUserById(@CurrentCaller() caller: CallerRef, @ProtoRequest() req: UserIdRequestDto) {
    return toProtoJson(await this.users.getById(caller, req.userId));
  }

  @Post(':userId/deactivate')
  @HttpCode(200)
  @UserDocs.stateChange('DeactivateUser', 'Deactivate a user')
  async deactivateUser(@CurrentCaller() caller: CallerRef, @ProtoRequest() req: UserIdRequestDto) {
    return toProtoJson({ details: detailsMessage(await this.users.changeState(caller, req.userId, 'deactivate')) });
  }

  @Post(':userId/reactivate')
  @HttpCode(200)
  @UserDocs.stateChange('ReactivateUser', 'Reactivate a deactivated user')
  async reactivateUser(@CurrentCaller() caller: CallerRef, @ProtoRequest() req: UserIdRequestDto) {
    return toProtoJson({ details: detailsMessage(await this.users.changeState(caller, req.userId, 'reactivate')) });
  }

  @Post(':userId/lock')
  @HttpCode(200)
  @UserDocs.stateChange('LockUser', 'Lock a user')
  async lockUser(@CurrentCaller() caller: CallerRef, @ProtoRequest() req: UserIdRequestDto) {
    return toProtoJson({ details: detailsMessage(await this.users.changeState(caller, req.userId, 'lock')) });
  }

  @Post(':userId/unlock')
  @HttpCode(200)
  @UserDocs.stateChange('UnlockUser', 'Unlock a locked user')
  async unlockUser(@CurrentCaller() caller: CallerRef, @ProtoRequest() req: UserIdRequestDto) {
    return toProtoJson({ details: detailsMessage(await this.users.changeState(caller, req.userId, 'unlock')) });
  }

  @Delete(':userId')
  @UserDocs.deleteUser()
  async deleteUser(@CurrentCaller() caller: CallerRef, @ProtoRequest() req: UserIdRequestDto) {
    return toProtoJson({ details: detailsMessage(await this.users.delete(caller, req.userId)) });
  }

  @Post(':userId/pats')
  @HttpCode(200)
  @UserDocs.addPersonalAccessToken()
  async addPersonalAccessToken(@CurrentCaller() caller: CallerRef, @ProtoRequest() req: AddPersonalAccessTokenDto) {
    return toProtoJson(await this.users.addPersonalAccessToken(caller, req.userId, req.expirationDate));
  }
}
