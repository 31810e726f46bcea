import { Injectable } from '@nestjs/common';
import { EntityManager } from 'typeorm';
import { PersonalAccessTokenEntity } from './entities/personal-access-token.entity';

@Injectable()
export class TokensRepository {
  async insert(manager: EntityManager, token: PersonalAccessTokenEntity): Promise<void> {
    await manager.insert(PersonalAccessTokenEntity, token);
  }

  async revokeAll(manager: EntityManager, userId: string): Promise<void> {
    await manager.delete(PersonalAccessTokenEntity, { userId });
  }
}
