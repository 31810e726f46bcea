import { Controller } from '@nestjs/common';
import { GrpcMethod } from '@nestjs/microservices';
import type { CallerRef } from '../common/auth/caller-ref';
import { CurrentCaller } from '../common/auth/caller.decorator';
import { Origin, type RequestOrigin } from '../common/throttle/client-address';
import { detailsMessage } from '../common/proto/details';
import { toProtoMessage } from '../common/proto/proto-json';
import { ProtoRequest } from '../common/validation/proto-request.decorator';
import { AddHumanUserDto } from './dto/add-human-user.dto';
import { AddOrganizationDto } from './dto/add-organization.dto';
import { CreateUserDto } from './dto/create-user.dto';
import { AddPersonalAccessTokenDto, UserIdRequestDto } from './dto/user-requests.dto';
import { OrganizationsService } from './organizations.service';
import { UsersService } from './users.service';

/** gRPC adapter of zitadel.user.v2.UserService's user methods and zitadel.org.v2.OrganizationService. */
@Controller()
export class UsersGrpcController {
  constructor(
    private readonly users: UsersService,
    private readonly organizations: OrganizationsService,
  ) {}

  @GrpcMethod('UserService', 'AddHumanUser')
  async addHumanUser(
    @ProtoRequest() req: AddHumanUserDto,
    @CurrentCaller() caller: CallerRef,
    @Origin() origin: RequestOrigin,
  ) {
    const result = await this.users.addHuman(caller, req, origin);
    return toProtoMessage({ ...result, details: detailsMessage(result.details) });
  }

  @GrpcMethod('UserService', 'CreateUser')
  async createUser(
    @ProtoRequest() req: CreateUserDto,
    @CurrentCaller() caller: CallerRef,
    @Origin() origin: RequestOrigin,
  ) {
    return toProtoMessage(await this.users.createUser(caller, req, origin));
  }

  @GrpcMethod('UserService', 'GetUserByID')
  async getUserById(@ProtoRequest() req: UserIdRequestDto, @CurrentCaller() caller: CallerRef) {
    return toProtoMessage(await this.users.getById(caller, req.userId));
  }

  @GrpcMethod('UserService', 'DeactivateUser')
  async deactivateUser(@ProtoRequest() req: UserIdRequestDto, @CurrentCaller() caller: CallerRef) {
    return toProtoMessage({ details: detailsMessage(await this.users.changeState(caller, req.userId, 'deactivate')) });
  }

  @GrpcMethod('UserService', 'ReactivateUser')
  async reactivateUser(@ProtoRequest() req: UserIdRequestDto, @CurrentCaller() caller: CallerRef) {
    return toProtoMessage({ details: detailsMessage(await this.users.changeState(caller, req.userId, 'reactivate')) });
  }

  @GrpcMethod('UserService', 'LockUser')
  async lockUser(@ProtoRequest() req: UserIdRequestDto, @CurrentCaller() caller: CallerRef) {
    return toProtoMessage({ details: detailsMessage(await this.users.changeState(caller, req.userId, 'lock')) });
  }

  @GrpcMethod('UserService', 'UnlockUser')
  async unlockUser(@ProtoRequest() req: UserIdRequestDto, @CurrentCaller() caller: CallerRef) {
    return toProtoMessage({ details: detailsMessage(await this.users.changeState(caller, req.userId, 'unlock')) });
  }

  @GrpcMethod('UserService', 'DeleteUser')
  async deleteUser(@ProtoRequest() req: UserIdRequestDto, @CurrentCaller() caller: CallerRef) {
    return toProtoMessage({ details: detailsMessage(await this.users.delete(caller, req.userId)) });
  }

  @GrpcMethod('UserService', 'AddPersonalAccessToken')
  async addPersonalAccessToken(@ProtoRequest() req: AddPersonalAccessTokenDto, @CurrentCaller() caller: CallerRef) {
    return toProtoMessage(await this.users.addPersonalAccessToken(caller, req.userId, req.expirationDate));
  }

  @GrpcMethod('OrganizationService', 'AddOrganization')
  async addOrganization(@ProtoRequest() req: AddOrganizationDto, @CurrentCaller() caller: CallerRef) {
    const result = await this.organizations.addOrganization(caller, req);
    return toProtoMessage({ ...result, details: detailsMessage(result.details) });
  }
}
