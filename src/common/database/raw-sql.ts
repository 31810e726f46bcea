import type { EntityManager } from 'typeorm';

/**
 * One hand-written statement for the hottest paths, where TypeORM's query building costs more
 * than the query. Written with PostgreSQL's $1, $2… (in order); SQLite gets `?`. Returns the rows
 * (also of UPDATE … RETURNING, which TypeORM's pg driver wraps as [rows, count]).
 */
export async function queryRows<T>(manager: EntityManager, sql: string, params: unknown[]): Promise<T[]> {
  const text = manager.connection.options.type === 'postgres' ? sql : sql.replace(/\$\d+/g, '?');
  const raw: unknown = await manager.query(text, params);
  if (Array.isArray(raw) && raw.length === 2 && Array.isArray(raw[0]) && typeof raw[1] === 'number') {
    return raw[0] as T[];
  }
  return (Array.isArray(raw) ? raw : []) as T[];
}
