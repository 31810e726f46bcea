import { Module } from '@nestjs/common';
import { CallersRepository } from './callers.repository';
import { OrganizationsRepository } from './organizations.repository';
import { TokensRepository } from './tokens.repository';
import { UsersRepository } from './users.repository';

/** The users' persistence, shared by the users and phone features. */
@Module({
  providers: [UsersRepository, OrganizationsRepository, TokensRepository, CallersRepository],
  exports: [UsersRepository, OrganizationsRepository, TokensRepository, CallersRepository],
})
export class UsersDataModule {}
