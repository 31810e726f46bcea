import { MigrationInterface, QueryRunner, TableIndex } from 'typeorm';

/**
 * The indexes the retention sweep reads by: events of a type by time (their phone numbers are
 * redacted after EVENT_PHONE_RETENTION) and outbox messages by when they ended (deleted after
 * SMS_OUTBOX_RETENTION), so that a sweep reads only what it prunes.
 */
export class Retention1764540000000 implements MigrationInterface {
  name = 'Retention1764540000000';

  async up(q: QueryRunner): Promise<void> {
    await q.createIndex(
      'events',
      new TableIndex({ name: 'IDX_events_type_time', columnNames: ['type', 'created_at'] }),
    );
    await q.createIndex(
      'sms_outbox',
      new TableIndex({ name: 'IDX_sms_outbox_finished', columnNames: ['finished_at'] }),
    );
  }

  async down(q: QueryRunner): Promise<void> {
    await q.dropIndex('sms_outbox', 'IDX_sms_outbox_finished');
    await q.dropIndex('events', 'IDX_events_type_time');
  }
}
