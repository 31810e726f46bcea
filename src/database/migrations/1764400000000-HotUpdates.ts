import { MigrationInterface, QueryRunner } from 'typeorm';

/** The tables whose rows every check and send updates in place, and how full PostgreSQL packs their pages. */
const UPDATED_IN_PLACE = ['users', 'phone_codes'];
const FILLFACTOR = 85;

/**
 * PostgreSQL: 15 % of each page left free, so that every check's and send's in-place updates are
 * HOT (ADR 0021). Pages written from now on; an existing table needs a rewrite.
 */
export class HotUpdates1764400000000 implements MigrationInterface {
  name = 'HotUpdates1764400000000';

  async up(q: QueryRunner): Promise<void> {
    if (q.connection.options.type !== 'postgres') return;
    for (const table of UPDATED_IN_PLACE) await q.query(`ALTER TABLE "${table}" SET (fillfactor = ${FILLFACTOR})`);
  }

  async down(q: QueryRunner): Promise<void> {
    if (q.connection.options.type !== 'postgres') return;
    for (const table of UPDATED_IN_PLACE) await q.query(`ALTER TABLE "${table}" RESET (fillfactor)`);
  }
}
