import { MigrationInterface, QueryRunner, TableColumn } from 'typeorm';

/**
 * Instance-wide roles get a column of their own (memberships.instance) instead of the scope
 * `instance`, which an organization could take as its id. Only IAM_OWNER was ever granted
 * instance-wide (AddOrganization grants organization roles only), so an organization role with
 * the scope `instance` stays what it was: a role on the organization of that id.
 */
export class InstanceScope1764531000000 implements MigrationInterface {
  name = 'InstanceScope1764531000000';

  async up(q: QueryRunner): Promise<void> {
    // as the entity's default is written on each: SQLite keeps booleans as 0 and 1
    const no = q.connection.options.type === 'postgres' ? false : 0;
    await q.addColumn('memberships', new TableColumn({ name: 'instance', type: 'boolean', default: no }));
    await q.query(`UPDATE memberships SET instance = TRUE, scope = '' WHERE scope = 'instance' AND role = 'IAM_OWNER'`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`UPDATE memberships SET scope = 'instance' WHERE instance = TRUE`);
    await q.dropColumn('memberships', 'instance');
  }
}
