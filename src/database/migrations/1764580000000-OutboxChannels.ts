import { MigrationInterface, QueryRunner, TableColumn } from 'typeorm';

/**
 * Channels (issue 30, point 1): each outbox row's channel, its code's workflow, the step it is at
 * and when that step times out. All nullable: the old release's rows are plain SMS rows.
 */
export class OutboxChannels1764580000000 implements MigrationInterface {
  name = 'OutboxChannels1764580000000';

  async up(q: QueryRunner): Promise<void> {
    await q.addColumns('sms_outbox', [
      new TableColumn({ name: 'channel', type: 'varchar', length: '16', isNullable: true }),
      new TableColumn({ name: 'channels', type: 'varchar', length: '64', isNullable: true }),
      new TableColumn({ name: 'step', type: 'integer', isNullable: true }),
      new TableColumn({ name: 'step_due_at', type: 'bigint', isNullable: true }),
    ]);
  }

  async down(q: QueryRunner): Promise<void> {
    for (const column of ['step_due_at', 'step', 'channels', 'channel']) await q.dropColumn('sms_outbox', column);
  }
}
