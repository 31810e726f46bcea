import { MigrationInterface, QueryRunner, TableColumn } from 'typeorm';

/** The id of the verification a delegated verifier (PHONE_VERIFIER) started for a code: its check names it. */
export class PhoneCodeVerificationId1764590000000 implements MigrationInterface {
  name = 'PhoneCodeVerificationId1764590000000';

  async up(q: QueryRunner): Promise<void> {
    await q.addColumn(
      'phone_codes',
      new TableColumn({ name: 'verification_id', type: 'varchar', length: '200', isNullable: true }),
    );
  }

  async down(q: QueryRunner): Promise<void> {
    await q.dropColumn('phone_codes', 'verification_id');
  }
}
