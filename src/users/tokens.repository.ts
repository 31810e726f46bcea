import { Injectable } from '@nestjs/common';
import { SqlRepository, Tx } from '../database/sql';
import { PersonalAccessTokenEntity } from './entities/personal-access-token.entity';

@Injectable()
export class TokensRepository extends SqlRepository {
  async insert(tx: Tx, token: PersonalAccessTokenEntity): Promise<void> {
    await this.db.insert(tx, PersonalAccessTokenEntity, token);
  }

  async revokeAll(tx: Tx, userId: string): Promise<void> {
    await this.db.execute(tx, 'DELETE FROM personal_access_tokens WHERE user_id = $1', [userId]);
  }
}
