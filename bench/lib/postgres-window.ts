import { Client } from 'pg';

/** The WAL position of the whole cluster now (every database's writes advance it). */
async function walPosition(url: string): Promise<string> {
  const client = new Client({ connectionString: url });
  await client.connect();
  try {
    const { rows } = await client.query<{ lsn: string }>('SELECT pg_current_wal_insert_lsn()::text AS lsn');
    return rows[0].lsn;
  } finally {
    await client.end();
  }
}

async function walBytesBetween(url: string, from: string, to: string): Promise<number> {
  const client = new Client({ connectionString: url });
  await client.connect();
  try {
    const { rows } = await client.query<{ bytes: string }>('SELECT pg_wal_lsn_diff($2, $1)::text AS bytes', [from, to]);
    return Number(rows[0].bytes);
  } finally {
    await client.end();
  }
}

/**
 * WAL written per answer during a measured window: what PostgreSQL must write (and, at a commit,
 * flush) for each answer. Unlike time it does not move with the machine's load; it grows with the
 * table when updates land on pages not written since the last checkpoint (each is then logged in
 * full), which is where a big table's latency tail comes from. Read from the WAL position, which
 * is exact (the statistics views lag by up to a second); the cluster's other databases, if busy,
 * count too.
 */
export class PostgresWindow {
  private from?: Promise<string | undefined>;

  constructor(private readonly url: string) {}

  start(): void {
    this.from = walPosition(this.url).catch(() => undefined);
  }

  async perAnswer(answers: number): Promise<{ walKBPerAnswer?: number }> {
    const from = await this.from;
    if (!from || answers === 0) return {};
    const to = await walPosition(this.url);
    return { walKBPerAnswer: (await walBytesBetween(this.url, from, to)) / 1024 / answers };
  }
}
