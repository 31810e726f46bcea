import { MigrationInterface, QueryRunner, Table, TableColumn, TableIndex } from 'typeorm';

/**
 * The webhook outbox (ADR 0024): one row per event and endpoint of EVENT_WEBHOOKS, written in the
 * event's transaction; and the correlation id of the request that queued an SMS, which the
 * events of its delivery carry to the webhooks.
 */
export class WebhookOutbox1764550000000 implements MigrationInterface {
  name = 'WebhookOutbox1764550000000';

  async up(q: QueryRunner): Promise<void> {
    await q.createTable(
      new Table({
        name: 'webhook_outbox',
        columns: [
          { name: 'id', type: 'varchar', length: '200', isPrimary: true },
          { name: 'event_id', type: 'varchar', length: '200' },
          { name: 'event_type', type: 'varchar', length: '64' },
          { name: 'endpoint', type: 'varchar', length: '2000' },
          { name: 'user_id', type: 'varchar', length: '200' },
          { name: 'sequence', type: 'integer' },
          { name: 'body', type: 'text' },
          { name: 'status', type: 'varchar', length: '16' },
          { name: 'attempts', type: 'integer', default: 0 },
          { name: 'next_attempt_at', type: 'bigint' },
          { name: 'locked_until', type: 'bigint', isNullable: true },
          { name: 'created_at', type: 'bigint' },
          { name: 'give_up_at', type: 'bigint' },
          { name: 'finished_at', type: 'bigint', isNullable: true },
          { name: 'last_error', type: 'varchar', length: '500', isNullable: true },
        ],
        indices: [
          new TableIndex({ name: 'IDX_webhook_outbox_due', columnNames: ['status', 'next_attempt_at'] }),
          new TableIndex({ name: 'IDX_webhook_outbox_user', columnNames: ['user_id', 'sequence'] }),
          new TableIndex({ name: 'IDX_webhook_outbox_finished', columnNames: ['finished_at'] }),
        ],
      }),
    );
    await q.addColumn(
      'sms_outbox',
      new TableColumn({ name: 'correlation_id', type: 'varchar', length: '200', isNullable: true }),
    );
  }

  async down(q: QueryRunner): Promise<void> {
    await q.dropColumn('sms_outbox', 'correlation_id');
    await q.dropTable('webhook_outbox');
  }
}
