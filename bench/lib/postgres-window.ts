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

/** The service's round trips and requests answered so far, from its /metrics (undefined without them). */
async function counts(metricsPort: number): Promise<{ trips: number; requests: number } | undefined> {
  const res = await fetch(`http://127.0.0.1:${metricsPort}/metrics`);
  const lines = (await res.text()).split('\n');
  const trips = lines.find((l) => l.startsWith(`${ROUND_TRIPS} `));
  if (trips === undefined) return undefined;
  // every label set of the request counter: the answers of all transports
  const requests = lines
    .filter((l) => l.startsWith('pv_requests_total{'))
    .reduce((sum, l) => sum + Number(l.slice(l.lastIndexOf(' ') + 1)), 0);
  return { trips: Number(trips.slice(ROUND_TRIPS.length + 1)), requests };
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
  private countsFrom?: Promise<{ trips: number; requests: number } | undefined>;

  constructor(
    private readonly url: string,
    private readonly metricsPort?: number,
  ) {}

  start(): void {
    this.from = walPosition(this.url).catch(() => undefined);
    if (this.metricsPort) this.countsFrom = counts(this.metricsPort).catch(() => undefined);
  }

  async perAnswer(answers: number): Promise<{ walKBPerAnswer?: number; roundTripsPerAnswer?: number }> {
    const from = await this.from;
    if (!from || answers === 0) return {};
    const to = await walPosition(this.url);
    const out: { walKBPerAnswer?: number; roundTripsPerAnswer?: number } = {
      walKBPerAnswer: (await walBytesBetween(this.url, from, to)) / 1024 / answers,
    };
    const before = await this.countsFrom;
    const after = this.metricsPort ? await counts(this.metricsPort).catch(() => undefined) : undefined;
    // per request the server answered in the window (the scrapes' own /metrics are not requests)
    const answered = before && after ? after.requests - before.requests : 0;
    if (before && after && answered > 0) out.roundTripsPerAnswer = (after.trips - before.trips) / answered;
    return out;
  }
}

/**
 * The service's own count of its round trips to PostgreSQL (batches of statements, each sent after
 * the answer to the one before; src/database/postgres.adapter.ts), divided by the requests it
 * answered (pv_requests_total), both read before and after the window.
 */
const ROUND_TRIPS = 'pv_database_round_trips_total';
