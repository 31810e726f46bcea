import { PhoneCodeEntity } from '../../../src/phone/phone-code.entity';
import type { PhoneCodesRepository, UserAndCode } from '../../../src/phone/phone-codes.repository';
import { UserState } from '../../../src/users/entities/user.entity';
import type { Tx } from './transactions';
import type { FakeUsers } from './users';

type Used = 'findUserAndCode' | 'findByUser' | 'replace' | 'removeForUser' | 'claimAttempt' | 'consume';

/**
 * The phone_codes table in memory, one row per user. Attempts and consumption are conditional
 * updates like the SQL ones: a claim succeeds only below the limit and before consumption, and a
 * code is consumed once. Rows are copied in and out, so what a caller loaded is a snapshot.
 */
export class FakePhoneCodes implements Pick<PhoneCodesRepository, Used> {
  readonly rows = new Map<string, PhoneCodeEntity>();
  /** every write in the order it was made, for specs about order */
  readonly writes: string[] = [];

  constructor(private readonly users: FakeUsers) {}

  /** A pending code as the issuer would have stored it. */
  add(code: Partial<PhoneCodeEntity> & Pick<PhoneCodeEntity, 'userId'>): PhoneCodeEntity {
    const row = Object.assign(new PhoneCodeEntity(), {
      id: `code-of-${code.userId}`,
      phone: '+41791234567',
      mac: '',
      keyId: 'k1',
      createdAt: new Date(0),
      expiresAt: new Date(8.64e15),
      attempts: 0,
      consumedAt: null,
      smsQueuedAt: null,
      ...code,
    });
    this.rows.set(row.userId, row);
    return this.copy(row)!;
  }

  get(userId: string): PhoneCodeEntity | null {
    return this.copy(this.rows.get(userId));
  }

  async findUserAndCode(_tx: Tx, userId: string): Promise<UserAndCode> {
    const user = this.users.get(userId);
    if (!user) return { pending: null };
    return { user: user.state === UserState.DELETED ? undefined : user, pending: this.get(userId) };
  }

  async findByUser(_tx: Tx, userId: string): Promise<PhoneCodeEntity | null> {
    return this.get(userId);
  }

  async replace(_tx: Tx, code: PhoneCodeEntity): Promise<void> {
    this.writes.push('replace');
    this.rows.set(code.userId, Object.assign(new PhoneCodeEntity(), code));
  }

  async removeForUser(_tx: Tx, userId: string): Promise<void> {
    this.writes.push('remove');
    this.rows.delete(userId);
  }

  async claimAttempt(_tx: Tx, codeId: string, maxAttempts: number): Promise<number | undefined> {
    this.writes.push('claim attempt');
    const row = this.byId(codeId);
    if (!row || row.attempts >= maxAttempts || row.consumedAt) return undefined;
    row.attempts += 1;
    return row.attempts;
  }

  async consume(_tx: Tx, codeId: string, at: Date): Promise<boolean> {
    this.writes.push('consume');
    const row = this.byId(codeId);
    if (!row || row.consumedAt) return false;
    row.consumedAt = at;
    return true;
  }

  private byId(codeId: string): PhoneCodeEntity | undefined {
    return [...this.rows.values()].find((row) => row.id === codeId);
  }

  private copy(row: PhoneCodeEntity | undefined): PhoneCodeEntity | null {
    return row ? Object.assign(new PhoneCodeEntity(), row) : null;
  }
}
