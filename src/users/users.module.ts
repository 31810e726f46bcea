import { DynamicModule, Module, Type } from '@nestjs/common';
import { UsersGrpcController } from './users.grpc.controller';
import { CallerResolver } from '../common/auth/caller-resolver';
import { FirstStartService } from './first-start.service';
import { OrganizationsController } from './organizations.controller';
import { OrganizationsService } from './organizations.service';
import { TokenService } from './token.service';
import { UsersController } from './users.controller';
import { UsersDataModule } from './users-data.module';
import { UsersService } from './users.service';

@Module({
  imports: [UsersDataModule],
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
export class UsersModule {
  /** With the phone module the app composes (once: tests may replace some of its providers). */
  static with(phone: Type | DynamicModule): DynamicModule {
    return { module: UsersModule, imports: [phone] };
  }
}
