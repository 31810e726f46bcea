import { PhoneCodeEntity } from '../../../src/phone/phone-code.entity';
import type { Claim, PhoneCodesRepository, UserAndCode } from '../../../src/phone/phone-codes.repository';
import { UserState } from '../../../src/users/entities/user.entity';
import type { Tx } from './transactions';
import type { FakeUsers } from './users';

type Used =
  | 'findUserAndCode'
  | 'findByUser'
  | 'replace'
  | 'removeForUser'
  | 'claimAttempt'
  | 'releaseAttempt'
  | 'consume'
  | 'recordVerification'
  | 'exhaustAttempts';

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

  /** As the SQL: only a code that may be compared (pending, attempts left, not expired, the user's unverified number). */
  async claimAttempt(_tx: Tx, userId: string, maxAttempts: number, now: Date): Promise<Claim | undefined> {
    this.writes.push('claim attempt');
    const row = this.rows.get(userId);
    const user = this.users.get(userId);
    if (!row || row.attempts >= maxAttempts || row.consumedAt || row.expiresAt.getTime() <= now.getTime()) {
      return undefined;
    }
    if (!user || user.phoneVerified || user.phone !== row.phone) return undefined;
    row.attempts += 1;
    return { codeId: row.id, attempts: row.attempts };
  }

  async releaseAttempt(_tx: Tx, codeId: string): Promise<void> {
    this.writes.push('release attempt');
    const row = this.byId(codeId);
    if (row) row.attempts -= 1;
  }

  async consume(_tx: Tx, codeId: string, at: Date): Promise<void> {
    this.writes.push('consume');
    const row = this.byId(codeId);
    if (!row || row.consumedAt) throw new Error('consumed already (the SQL fails the statement)');
    row.consumedAt = at;
  }

  async recordVerification(_tx: Tx, codeId: string, verificationId: string): Promise<void> {
    this.writes.push('record verification');
    const row = this.byId(codeId);
    if (row) row.verificationId = verificationId;
  }

  async exhaustAttempts(_tx: Tx, codeId: string, maxAttempts: number): Promise<void> {
    this.writes.push('exhaust attempts');
    const row = this.byId(codeId);
    if (row) row.attempts = maxAttempts;
  }

  private byId(codeId: string): PhoneCodeEntity | undefined {
    return [...this.rows.values()].find((row) => row.id === codeId);
  }

  private copy(row: PhoneCodeEntity | undefined): PhoneCodeEntity | null {
    return row ? Object.assign(new PhoneCodeEntity(), row) : null;
  }
}
