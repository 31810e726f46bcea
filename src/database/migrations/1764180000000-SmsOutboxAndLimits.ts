import { MigrationInterface, QueryRunner, Table, TableIndex } from 'typeorm';

/** The SMS outbox and the database-backed rate-limit log; portable Table API like the first migration. */
export class SmsOutboxAndLimits1764180000000 implements MigrationInterface {
  name = 'SmsOutboxAndLimits1764180000000';

  async up(q: QueryRunner): Promise<void> {
    const id = (name: string, isPrimary = false) => ({ name, type: 'varchar', length: '200', isPrimary });
    const time = (name: string, isNullable = false) => ({ name, type: 'bigint', isNullable });
    await q.createTable(
      new Table({
        name: 'sms_outbox',
        columns: [
          id('id', true),
          id('code_id'),
          id('user_id'),
          id('org_id'),
          { name: 'recipient', type: 'varchar', length: '32' },
          { name: 'sealed_code', type: 'text', isNullable: true },
          { name: 'status', type: 'varchar', length: '16' },
          { name: 'attempts', type: 'integer', default: 0 },
          time('next_attempt_at'),
          time('locked_until', true),
          time('created_at'),
          time('give_up_at'),
          { name: 'last_error', type: 'varchar', length: '500', isNullable: true },
          { name: 'provider', type: 'varchar', length: '100', isNullable: true },
          time('finished_at', true),
        ],
        indices: [new TableIndex({ name: 'IDX_sms_outbox_due', columnNames: ['status', 'next_attempt_at'] })],
      }),
    );
    await q.createTable(
      new Table({
        name: 'limit_hits',
        columns: [id('id', true), { name: 'key', type: 'varchar', length: '300' }, time('at')],
        indices: [new TableIndex({ name: 'IDX_limit_hits_key_at', columnNames: ['key', 'at'] })],
      }),
    );
  }

  async down(q: QueryRunner): Promise<void> {
    await q.dropTable('limit_hits');
    await q.dropTable('sms_outbox');
  }
}
