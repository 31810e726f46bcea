import { MigrationInterface, QueryRunner, TableColumn } from 'typeorm';

/**
 * When a code was queued for SMS: the resend cooldown holds from the database even when the
 * limit store (Redis) lost its counters.
 */
export class PhoneCodeSmsQueuedAt1764300000000 implements MigrationInterface {
  name = 'PhoneCodeSmsQueuedAt1764300000000';

  async up(q: QueryRunner): Promise<void> {
    await q.addColumn('phone_codes', new TableColumn({ name: 'sms_queued_at', type: 'bigint', isNullable: true }));
  }

  async down(q: QueryRunner): Promise<void> {
    await q.dropColumn('phone_codes', 'sms_queued_at');
  }
}
