import { Module } from '@nestjs/common';
import { UsersGrpcController } from './users.grpc.controller';
import { CallerResolver } from '../common/auth/caller-resolver';
import { PhoneModule } from '../phone/phone.module';
import { FirstStartService } from './first-start.service';
import { OrganizationsController } from './organizations.controller';
import { OrganizationsService } from './organizations.service';
import { TokenService } from './token.service';
import { UsersController } from './users.controller';
import { UsersDataModule } from './users-data.module';
import { UsersService } from './users.service';

@Module({
  imports: [UsersDataModule, PhoneModule],
  controllers: [UsersController, OrganizationsController, UsersGrpcController],
  providers: [
    UsersService,
    OrganizationsService,
    FirstStartService,
    TokenService,
    { provide: CallerResolver, useExisting: TokenService },
  ],
  exports: [UsersService, OrganizationsService, CallerResolver],
})
export class UsersModule {}
