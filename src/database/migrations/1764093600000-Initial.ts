import { MigrationInterface, QueryRunner, Table, TableColumnOptions, TableIndex } from 'typeorm';

const id = (name = 'id', primary = false): TableColumnOptions => ({
  name,
  type: 'varchar',
  length: '200',
  isPrimary: primary,
});
const time = (name: string, nullable = false): TableColumnOptions => ({ name, type: 'bigint', isNullable: nullable });
const text = (name: string, length: number, nullable = false): TableColumnOptions => ({
  name,
  type: 'varchar',
  length: String(length),
  isNullable: nullable,
});
const int = (name: string, def?: number): TableColumnOptions => ({ name, type: 'integer', default: def });
const bool = (name: string): TableColumnOptions => ({ name, type: 'boolean' });

/** The same migration runs on SQLite and PostgreSQL: it only uses TypeORM's portable Table API. */
export class Initial1764093600000 implements MigrationInterface {
  name = 'Initial1764093600000';

  async up(q: QueryRunner): Promise<void> {
    await q.createTable(
      new Table({
        name: 'events',
        columns: [
          id('id', true),
          text('aggregate_type', 32),
          id('aggregate_id'),
          int('sequence'),
          text('type', 80),
          { name: 'payload', type: 'text' },
          id('creator'),
          id('resource_owner'),
          time('created_at'),
        ],
        indices: [
          new TableIndex({
            name: 'UQ_events_aggregate_sequence',
            columnNames: ['aggregate_type', 'aggregate_id', 'sequence'],
            isUnique: true,
          }),
          new TableIndex({
            name: 'IDX_events_aggregate_type_time',
            columnNames: ['aggregate_id', 'type', 'created_at'],
          }),
        ],
      }),
    );
    await q.createTable(
      new Table({
        name: 'node_leases',
        columns: [{ name: 'node_id', type: 'integer', isPrimary: true }, text('holder', 64), time('expires_at')],
      }),
    );
    await q.createTable(
      new Table({
        name: 'organizations',
        columns: [
          id('id', true),
          { ...text('name', 200), isUnique: true },
          { ...text('domain', 255), isUnique: true },
          int('sequence', 0),
          time('created_at'),
          time('changed_at'),
        ],
      }),
    );
    await q.createTable(
      new Table({
        name: 'users',
        columns: [
          id('id', true),
          id('org_id'),
          text('type', 10),
          int('state'),
          text('username', 200),
          text('given_name', 200, true),
          text('family_name', 200, true),
          text('nick_name', 200, true),
          text('display_name', 200, true),
          text('preferred_language', 10, true),
          int('gender', 0),
          text('email', 200, true),
          bool('email_verified'),
          text('phone', 32, true),
          bool('phone_verified'),
          text('machine_name', 200, true),
          text('machine_description', 500, true),
          int('sequence', 0),
          time('created_at'),
          time('changed_at'),
        ],
        indices: [
          new TableIndex({ name: 'UQ_users_org_username', columnNames: ['org_id', 'username'], isUnique: true }),
        ],
      }),
    );
    await q.createTable(
      new Table({
        name: 'memberships',
        columns: [id('id', true), id('user_id'), text('scope', 200), text('role', 40), time('created_at')],
        indices: [
          new TableIndex({
            name: 'UQ_memberships_user_scope_role',
            columnNames: ['user_id', 'scope', 'role'],
            isUnique: true,
          }),
        ],
      }),
    );
    await q.createTable(
      new Table({
        name: 'personal_access_tokens',
        columns: [
          id('id', true),
          id('user_id'),
          { ...text('token_hash', 64), isUnique: true },
          time('expires_at'),
          time('created_at'),
        ],
        indices: [new TableIndex({ name: 'IDX_pats_user', columnNames: ['user_id'] })],
      }),
    );
    await q.createTable(
      new Table({
        name: 'phone_codes',
        columns: [
          id('id', true),
          { ...id('user_id'), isUnique: true },
          text('phone', 32),
          text('mac', 64),
          text('key_id', 32),
          time('created_at'),
          time('expires_at'),
          int('attempts', 0),
          time('consumed_at', true),
        ],
      }),
    );
  }

  async down(q: QueryRunner): Promise<void> {
    for (const table of [
      'phone_codes',
      'personal_access_tokens',
      'memberships',
      'users',
      'organizations',
      'node_leases',
      'events',
    ]) {
      await q.dropTable(table);
    }
  }
}
