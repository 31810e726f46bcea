import { MigrationInterface, QueryRunner, Table, TableColumn, TableIndex } from 'typeorm';

const time = (name: string, nullable = false) => new TableColumn({ name, type: 'bigint', isNullable: nullable });
const text = (name: string, length: number, nullable = true) =>
  new TableColumn({ name, type: 'varchar', length: String(length), isNullable: nullable });

/**
 * Delivery receipts: each outbox row's provider message id and receipt status, and the table of
 * receipts waiting for their message (one that came before the send's answer was stored).
 */
export class SmsDeliveryReceipts1764520000000 implements MigrationInterface {
  name = 'SmsDeliveryReceipts1764520000000';

  async up(q: QueryRunner): Promise<void> {
    await q.addColumns('sms_outbox', [
      text('provider_message_id', 200),
      text('delivery_status', 16),
      text('delivery_error', 64),
      time('delivery_status_at', true),
      text('failed_providers', 500),
    ]);
    await q.createIndex(
      'sms_outbox',
      new TableIndex({ name: 'IDX_sms_outbox_provider_message', columnNames: ['provider', 'provider_message_id'] }),
    );
    await q.createTable(
      new Table({
        name: 'sms_receipts',
        columns: [
          { name: 'provider', type: 'varchar', length: '100', isPrimary: true },
          { name: 'provider_message_id', type: 'varchar', length: '200', isPrimary: true },
          { name: 'status', type: 'varchar', length: '16', isPrimary: true },
          { name: 'error_code', type: 'varchar', length: '64', isNullable: true },
          { name: 'status_at', type: 'bigint' },
          { name: 'received_at', type: 'bigint' },
        ],
      }),
    );
  }

  async down(q: QueryRunner): Promise<void> {
    await q.dropTable('sms_receipts');
    await q.dropIndex('sms_outbox', 'IDX_sms_outbox_provider_message');
    for (const column of [
      'failed_providers',
      'delivery_status_at',
      'delivery_error',
      'delivery_status',
      'provider_message_id',
    ]) {
      await q.dropColumn('sms_outbox', column);
    }
  }
}
