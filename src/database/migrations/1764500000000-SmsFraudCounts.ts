import { MigrationInterface, QueryRunner, Table, TableColumn, TableIndex } from 'typeorm';

/**
 * The SMS pumping guard: hourly counters of sends and verifications (by country, number prefix,
 * client address), the keyed hashes of numbers verified before, and on each code where its SMS
 * was requested from, so that its verification counts where the send did.
 */
export class SmsFraudCounts1764500000000 implements MigrationInterface {
  name = 'SmsFraudCounts1764500000000';

  async up(q: QueryRunner): Promise<void> {
    await q.createTable(
      new Table({
        name: 'sms_fraud_counts',
        columns: [
          { name: 'key', type: 'varchar', length: '200', isPrimary: true },
          { name: 'hour', type: 'bigint', isPrimary: true },
          { name: 'sent', type: 'integer', default: 0 },
          { name: 'verified', type: 'integer', default: 0 },
        ],
        indices: [new TableIndex({ name: 'IDX_sms_fraud_counts_hour', columnNames: ['hour'] })],
      }),
    );
    await q.createTable(
      new Table({
        name: 'sms_verified_numbers',
        columns: [
          { name: 'number_hash', type: 'varchar', length: '64', isPrimary: true },
          { name: 'verified_at', type: 'bigint' },
        ],
        indices: [new TableIndex({ name: 'IDX_sms_verified_numbers_at', columnNames: ['verified_at'] })],
      }),
    );
    await q.addColumns('phone_codes', [
      new TableColumn({ name: 'sent_from', type: 'varchar', length: '64', isNullable: true }),
      new TableColumn({ name: 'sent_country', type: 'varchar', length: '8', isNullable: true }),
    ]);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.dropColumn('phone_codes', 'sent_country');
    await q.dropColumn('phone_codes', 'sent_from');
    await q.dropTable('sms_verified_numbers');
    await q.dropTable('sms_fraud_counts');
  }
}
