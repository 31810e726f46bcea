import { MigrationInterface, QueryRunner, Table } from 'typeorm';

/** The progressive back-off per SMS destination number (SMS_BACKOFF_*): one row per number. */
export class LimitBackoffs1764510000000 implements MigrationInterface {
  name = 'LimitBackoffs1764510000000';

  async up(q: QueryRunner): Promise<void> {
    await q.createTable(
      new Table({
        name: 'limit_backoffs',
        columns: [
          { name: 'key', type: 'varchar', length: '300', isPrimary: true },
          { name: 'sends', type: 'integer' },
          { name: 'next_at', type: 'bigint' },
          { name: 'expires_at', type: 'bigint' },
        ],
      }),
    );
  }

  async down(q: QueryRunner): Promise<void> {
    await q.dropTable('limit_backoffs');
  }
}
