import { MigrationInterface, QueryRunner, Table, TableColumn, TableIndex } from 'typeorm';

const bigint = (name: string) => new TableColumn({ name, type: 'bigint', isNullable: true });

/**
 * SMS spending caps: the daily spend counters, what each outbox message was counted at (and on
 * which day, so a receipt's price corrects that day), and the price a receipt reported.
 */
export class SmsSpend1764570000000 implements MigrationInterface {
  name = 'SmsSpend1764570000000';

  async up(q: QueryRunner): Promise<void> {
    await q.createTable(
      new Table({
        name: 'sms_spend_counts',
        columns: [
          { name: 'key', type: 'varchar', length: '200', isPrimary: true },
          { name: 'day', type: 'bigint', isPrimary: true },
          { name: 'micros', type: 'bigint', default: 0 },
        ],
      }),
    );
    await q.createIndex('sms_spend_counts', new TableIndex({ name: 'IDX_sms_spend_counts_day', columnNames: ['day'] }));
    await q.addColumns('sms_outbox', [bigint('spend_micros'), bigint('spend_day')]);
    await q.addColumns('sms_receipts', [
      bigint('price_micros'),
      new TableColumn({ name: 'price_currency', type: 'varchar', length: '3', isNullable: true }),
    ]);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.dropColumn('sms_receipts', 'price_currency');
    await q.dropColumn('sms_receipts', 'price_micros');
    await q.dropColumn('sms_outbox', 'spend_day');
    await q.dropColumn('sms_outbox', 'spend_micros');
    await q.dropTable('sms_spend_counts');
  }
}
