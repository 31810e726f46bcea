import { Injectable } from '@nestjs/common';
import { EntityManager, IsNull, LessThan } from 'typeorm';
import { PhoneCodeEntity } from './phone-code.entity';

/** Pending phone codes. Attempts and consumption are conditional updates: the database decides races. */
@Injectable()
export class PhoneCodesRepository {
  findByUser(manager: EntityManager, userId: string): Promise<PhoneCodeEntity | null> {
    return manager.findOne(PhoneCodeEntity, { where: { userId } });
  }

  /** A new code replaces whatever the user had pending. */
  async replace(manager: EntityManager, code: PhoneCodeEntity): Promise<void> {
    await manager.delete(PhoneCodeEntity, { userId: code.userId });
    await manager.insert(PhoneCodeEntity, code);
  }

  async removeForUser(manager: EntityManager, userId: string): Promise<void> {
    await manager.delete(PhoneCodeEntity, { userId });
  }

  /**
   * Counts one attempt before the comparison. Returns the attempts used including this one, or
   * undefined when the code is consumed or has none left (so no comparison may happen).
   */
  async claimAttempt(manager: EntityManager, codeId: string, maxAttempts: number): Promise<number | undefined> {
    const claimed = await manager.update(
      PhoneCodeEntity,
      { id: codeId, attempts: LessThan(maxAttempts), consumedAt: IsNull() },
      { attempts: () => 'attempts + 1' },
    );
    if (!claimed.affected) return undefined;
    const row = await manager.findOne(PhoneCodeEntity, { where: { id: codeId }, select: { attempts: true, id: true } });
    return row?.attempts;
  }

  /** Exactly one caller can consume a code. */
  async consume(manager: EntityManager, codeId: string, at: Date): Promise<boolean> {
    const result = await manager.update(PhoneCodeEntity, { id: codeId, consumedAt: IsNull() }, { consumedAt: at });
    return Boolean(result.affected);
  }
}
