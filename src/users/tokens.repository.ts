import { Injectable } from '@nestjs/common';
import { DataSource, EntityManager } from 'typeorm';
import { PersonalAccessTokenEntity } from './entities/personal-access-token.entity';

@Injectable()
export class TokensRepository {
  constructor(private readonly dataSource: DataSource) {}

  findByHash(tokenHash: string): Promise<PersonalAccessTokenEntity | null> {
    return this.dataSource.manager.findOne(PersonalAccessTokenEntity, { where: { tokenHash } });
  }

  async insert(manager: EntityManager, token: PersonalAccessTokenEntity): Promise<void> {
    await manager.insert(PersonalAccessTokenEntity, token);
  }

  async revokeAll(manager: EntityManager, userId: string): Promise<void> {
    await manager.delete(PersonalAccessTokenEntity, { userId });
  }
}
