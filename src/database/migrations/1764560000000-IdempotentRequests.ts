import { MigrationInterface, QueryRunner, Table, TableIndex } from 'typeorm';

/** Idempotency-Key on SetPhone, ResendPhoneCode and AddHumanUser: one row per (caller, method, key), kept 24 h. */
export class IdempotentRequests1764560000000 implements MigrationInterface {
  name = 'IdempotentRequests1764560000000';

  async up(q: QueryRunner): Promise<void> {
    await q.createTable(
      new Table({
        name: 'idempotent_requests',
        columns: [
          { name: 'id', type: 'varchar', length: '64', isPrimary: true },
          { name: 'fingerprint', type: 'varchar', length: '64' },
          { name: 'answer', type: 'text', isNullable: true },
          { name: 'created_at', type: 'bigint' },
          { name: 'expires_at', type: 'bigint' },
        ],
        indices: [new TableIndex({ name: 'IDX_idempotent_requests_expires', columnNames: ['expires_at'] })],
      }),
    );
  }

  async down(q: QueryRunner): Promise<void> {
    await q.dropTable('idempotent_requests');
  }
}
