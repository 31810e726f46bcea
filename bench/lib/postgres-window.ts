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

/** Round trips so far (the proxy's count) and requests the service answered, from its /metrics. */
async function counts(
  metricsPort: number,
  roundTrips: () => Promise<number>,
): Promise<{ trips: number; requests: number }> {
  const res = await fetch(`http://127.0.0.1:${metricsPort}/metrics`);
  // read once the scrape is answered: a busy service renders it late, and both counts move meanwhile
  const trips = await roundTrips();
  // every label set of the request counter: the answers of all transports
  const requests = (await res.text())
    .split('\n')
    .filter((l) => l.startsWith('pv_requests_total{'))
    .reduce((sum, l) => sum + Number(l.slice(l.lastIndexOf(' ') + 1)), 0);
  return { trips, requests };
}

/**
 * WAL written per answer during a measured window: what PostgreSQL must write (and, at a commit,
 * flush) for each answer. Unlike time it does not move with the machine's load; it grows with the
 * table when updates land on pages not written since the last checkpoint (each is then logged in
 * full), which is where a big table's latency tail comes from. Read from the WAL position, which
 * is exact (the statistics views lag by up to a second); the cluster's other databases, if busy,
 * count too. Given the server's /metrics and its proxy's count (bench/lib/db-proxy.ts), also the
 * round trips to PostgreSQL per request it answered.
 */
export class PostgresWindow {
  private from?: Promise<string | undefined>;
  private countsFrom?: Promise<{ trips: number; requests: number } | undefined>;
  private countsTo?: Promise<{ trips: number; requests: number } | undefined>;
  private end?: NodeJS.Timeout;

  constructor(
    private readonly url: string,
    private readonly metricsPort?: number,
    private readonly roundTrips?: () => Promise<number>,
  ) {}

  /**
   * The window starts now and lasts `windowMs`: the round trips and requests are read at its end
   * too, while the load still runs, so that requests in flight weigh the same at both ends (read
   * after the run, the answers of those in flight at the start would count and not all their trips).
   */
  start(windowMs: number): void {
    this.from = walPosition(this.url).catch(() => undefined);
    this.countsFrom = this.counts();
    this.end = setTimeout(() => {
      this.end = undefined;
      this.countsTo = this.counts();
    }, windowMs);
  }

  private counts(): Promise<{ trips: number; requests: number } | undefined> {
    if (!this.metricsPort || !this.roundTrips) return Promise.resolve(undefined);
    return counts(this.metricsPort, this.roundTrips).catch(() => undefined);
  }

  async perAnswer(answers: number): Promise<{ walKBPerAnswer?: number; roundTripsPerAnswer?: number }> {
    // a run that stopped early: its end is now
    if (this.end) {
      clearTimeout(this.end);
      this.end = undefined;
      this.countsTo = this.counts();
    }
    const from = await this.from;
    if (!from || answers === 0) return {};
    const to = await walPosition(this.url);
    const out: { walKBPerAnswer?: number; roundTripsPerAnswer?: number } = {
      walKBPerAnswer: (await walBytesBetween(this.url, from, to)) / 1024 / answers,
    };
    const before = await this.countsFrom;
    const after = await this.countsTo;
    // per request the server answered in the window (the scrapes' own /metrics are not requests)
    const answered = before && after ? after.requests - before.requests : 0;
    if (before && after && answered > 0) out.roundTripsPerAnswer = (after.trips - before.trips) / answered;
    return out;
  }
}
