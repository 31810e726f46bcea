import { Injectable } from '@nestjs/common';
import { INSTANCE, type Caller, type Grant, type Role } from '../common/auth/caller';
import { SqlRepository, type Tx } from '../database/sql';
import { UserState } from './entities/user.entity';

interface CallerRow {
  user_id: string;
  org_id: string;
  state: number | string;
  expires_at?: number | string | null;
  scope: string | null;
  instance: boolean | number | null;
  role: Role | null;
}

const BY_TOKEN = `SELECT u.id AS user_id, u.org_id, u.state, p.expires_at, m.scope, m.instance, m.role
  FROM personal_access_tokens p
  JOIN users u ON u.id = p.user_id
  LEFT JOIN memberships m ON m.user_id = u.id
  WHERE p.token_hash = $1`;

const BY_USER = `SELECT u.id AS user_id, u.org_id, u.state, m.scope, m.instance, m.role
  FROM users u
  LEFT JOIN memberships m ON m.user_id = u.id
  WHERE u.id = $1`;

/** Who a request comes from, in one query per request (inside its transaction where it has one): the token (or user), its user and its roles. */
@Injectable()
export class CallersRepository extends SqlRepository {
  /** The active owner of a personal access token that has not expired at `now`. */
  async byTokenHash(tokenHash: string, now: Date, tx?: Tx): Promise<Caller | undefined> {
    const rows = await this.db.rows<CallerRow>(tx, BY_TOKEN, [tokenHash]);
    if (rows.length === 0 || Number(rows[0].expires_at) <= now.getTime()) return undefined;
    return toCaller(rows);
  }

  /** An active user (the subject of a JWT); with `orgId`, only when it belongs to that organization. */
  async byUserId(userId: string, tx?: Tx, orgId?: string): Promise<Caller | undefined> {
    const caller = toCaller(await this.db.rows<CallerRow>(tx, BY_USER, [userId]));
    return orgId === undefined || caller?.orgId === orgId ? caller : undefined;
  }
}

/** A membership row as a grant: the instance flag (boolean on PostgreSQL, 0/1 on SQLite) or the organization. */
export function grantOf(row: { scope: string; instance: boolean | number | string; role: Role }): Grant {
  const instance = row.instance === true || Number(row.instance) === 1;
  return { scope: instance ? INSTANCE : row.scope, role: row.role };
}

function toCaller(rows: CallerRow[]): Caller | undefined {
  const first = rows[0];
  if (!first || Number(first.state) !== UserState.ACTIVE) return undefined;
  return {
    userId: first.user_id,
    orgId: first.org_id,
    grants: rows.filter((r) => r.role).map((r) => grantOf({ scope: r.scope!, instance: r.instance!, role: r.role! })),
  };
}
