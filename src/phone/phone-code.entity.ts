import { Column, Entity, PrimaryColumn } from 'typeorm';
import { TimeColumn } from '../database/columns';

/**
 * The one pending phone code of a user (a new code replaces the row). Only a keyed MAC of
 * (user id, number, code) is stored; `keyId` names the key so keys can rotate.
 */
@Entity({ name: 'phone_codes' })
export class PhoneCodeEntity {
  @PrimaryColumn({ type: 'varchar', length: 200 })
  id: string;

  @Column({ name: 'user_id', type: 'varchar', length: 200, unique: true })
  userId: string;

  @Column({ type: 'varchar', length: 32 })
  phone: string;

  @Column({ type: 'varchar', length: 64 })
  mac: string;

  @Column({ name: 'key_id', type: 'varchar', length: 32 })
  keyId: string;

  @TimeColumn('created_at')
  createdAt: Date;

  @TimeColumn('expires_at')
  expiresAt: Date;

  /** Raised before every comparison, so parallel guesses can never exceed the limit. */
  @Column({ name: 'attempts', type: 'integer', default: 0 })
  attempts: number;

  @TimeColumn('consumed_at', { nullable: true })
  consumedAt: Date | null;

  /** When it was queued for SMS (null: returned to the caller): the resend cooldown counts from here. */
  @TimeColumn('sms_queued_at', { nullable: true })
  smsQueuedAt: Date | null;

  /**
   * The client address the SMS was requested from ("unknown" when none was reported), and the
   * destination country: the pumping guard counts the code's verification where it counted the
   * send. Null when the guard was off.
   */
  @Column({ name: 'sent_from', type: 'varchar', length: 64, nullable: true })
  sentFrom: string | null;

  @Column({ name: 'sent_country', type: 'varchar', length: 8, nullable: true })
  sentCountry: string | null;

  /** A delegated verifier's id for the verification it started for this code (PHONE_VERIFIER, ADR 0030). */
  @Column({ name: 'verification_id', type: 'varchar', length: 200, nullable: true })
  verificationId?: string | null;
}
