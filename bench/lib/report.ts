import type { Scenario, Transport } from './scenarios';

export type Db = 'sqlite' | 'postgres';

export interface ResultRow {
  kind: 'ceiling' | 'scenario' | 'scaling';
  /** Scenario key, or the ceiling's name. */
  scenario: Scenario | 'ceiling-nest-express' | 'ceiling-grpc-js';
  title: string;
  transport: Transport;
  /** The load generator: autocannon, the grpc-js loop or the node:http loop. */
  driver: string;
  db: Db | '-';
  /** Users in the database during the run. */
  users: number;
  reqPerSec: number;
  /** req/s of the matching ceiling (same load generator) and this row's fraction of it. */
  ceilingReqPerSec?: number;
  ratio?: number;
  p50Ms: number;
  p90Ms: number;
  p99Ms: number;
  maxMs: number;
  ok: number;
  errors: number;
  errorKinds: string[];
  /** Peak resident memory of the server process during this row's run. */
  peakRssMB: number;
  /**
   * CPU time per answer (µs) during the measured window: of the server process, and on
   * PostgreSQL of all its server processes. Unlike req/s it does not move with what else the
   * machine runs, so it is what to compare between two versions of the code.
   */
  serverCpuUs?: number;
  dbCpuUs?: number;
  /** PostgreSQL: WAL written per answer (kB) during the measured window (see bench/lib/postgres-window.ts). */
  walKBPerAnswer?: number;
  /** PostgreSQL: round trips between the service and PostgreSQL (counted by a proxy) per answer. */
  roundTripsPerAnswer?: number;
  elapsedS: number;
  stoppedEarly?: string;
  /** With --rounds N: which round of the scenario's transports this row was (1…N). */
  round?: number;
}

export interface TargetCheck {
  target: string;
  measured: string;
  met: boolean | null;
}

const fmt = (n: number | undefined, digits = 1) => (n === undefined || !Number.isFinite(n) ? '-' : n.toFixed(digits));

export function formatCount(n: number): string {
  if (n >= 1_000_000 && n % 1_000_000 === 0) return `${n / 1_000_000}M`;
  if (n >= 1000 && n % 1000 === 0) return `${n / 1000}k`;
  return String(n);
}

export function formatTable(rows: ResultRow[]): string {
  const header = [
    'scenario',
    'transport',
    'db',
    'users',
    'req/s',
    '× ceiling',
    'p50 ms',
    'p99 ms',
    'errors',
    'peak RSS MB',
    'CPU µs/req',
    ...(rows.some((r) => r.walKBPerAnswer !== undefined) ? ['WAL kB/req'] : []),
    ...(rows.some((r) => r.roundTripsPerAnswer !== undefined) ? ['DB round trips/req'] : []),
  ];
  const body = rows.map((r) => [
    r.title + (r.stoppedEarly ? ' *' : ''),
    r.transport,
    r.db,
    r.users ? formatCount(r.users) : '-',
    fmt(r.reqPerSec, 0),
    r.ratio === undefined ? '-' : fmt(r.ratio, 2),
    fmt(r.p50Ms, 1),
    fmt(r.p99Ms, 1),
    String(r.errors),
    r.kind === 'ceiling' ? '-' : fmt(r.peakRssMB, 0),
    fmt(r.serverCpuUs, 0) + (r.dbCpuUs === undefined ? '' : ` + ${fmt(r.dbCpuUs, 0)}`),
    ...(rows.some((x) => x.walKBPerAnswer !== undefined) ? [fmt(r.walKBPerAnswer, 1)] : []),
    ...(rows.some((x) => x.roundTripsPerAnswer !== undefined) ? [fmt(r.roundTripsPerAnswer, 2)] : []),
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...body.map((row) => row[i].length)));
  const line = (cells: string[]) =>
    `| ${cells.map((c, i) => (i >= 3 ? c.padStart(widths[i]) : c.padEnd(widths[i]))).join(' | ')} |`;
  const out = [
    line(header),
    `|${widths.map((w, i) => (i >= 3 ? `${'-'.repeat(w + 1)}:` : '-'.repeat(w + 2))).join('|')}|`,
  ];
  for (const row of body) out.push(line(row));
  if (rows.some((r) => r.stoppedEarly)) out.push('* stopped before the time was up: its prepared users were used up');
  if (rows.some((r) => r.dbCpuUs !== undefined)) {
    out.push('CPU µs/req: CPU time per answer of the server process, + of all PostgreSQL processes');
  }
  if (rows.some((r) => r.walKBPerAnswer !== undefined)) {
    out.push("WAL kB/req: PostgreSQL's write-ahead log written per answer (the whole cluster's)");
  }
  if (rows.some((r) => r.roundTripsPerAnswer !== undefined)) {
    out.push('DB round trips/req: round trips between the service and PostgreSQL per answer (a counting proxy)');
  }
  if (rows.some((r) => r.kind === 'ceiling')) {
    out.push('ceilings run under ts-node, so their RSS (in the JSON) is not comparable and is not shown');
  }
  return out.join('\n');
}

/** Issue 6, point 6, and issue 25, point 3: each target with what this run measured. */
export function checkTargets(rows: ResultRow[], connections: number): TargetCheck[] {
  const checks: TargetCheck[] = [];
  const all = (scenario: string, transport: string, db: string) =>
    rows.filter((r) => r.kind === 'scenario' && r.scenario === scenario && r.transport === transport && r.db === db);
  // with --rounds: the round with the median req/s
  const find = (scenario: string, transport: string, db: string) => {
    const found = all(scenario, transport, db).sort((a, b) => a.reqPerSec - b.reqPerSec);
    return found[Math.floor((found.length - 1) / 2)] as ResultRow | undefined;
  };
  const ratio = (target: string, row: ResultRow | undefined, min: number) => {
    if (!row || row.ratio === undefined) return;
    checks.push({
      target,
      measured: `${row.ratio.toFixed(2)} (${row.reqPerSec.toFixed(0)} of ${row.ceilingReqPerSec!.toFixed(0)} req/s)`,
      met: row.ratio >= min,
    });
  };
  ratio(
    'REST VerifyPhone (wrong code), SQLite ≥ 0.6 × Nest+Express ceiling',
    find('verify-wrong', 'rest', 'sqlite'),
    0.6,
  );
  ratio('REST GetUserByID, SQLite ≥ 0.8 × Nest+Express ceiling', find('get-user', 'rest', 'sqlite'), 0.8);
  ratio('gRPC VerifyPhone (wrong code), SQLite ≥ 0.6 × grpc-js ceiling', find('verify-wrong', 'grpc', 'sqlite'), 0.6);
  ratio(
    'REST VerifyPhone (wrong code), PostgreSQL ≥ 0.4 × Nest+Express ceiling',
    find('verify-wrong', 'rest', 'postgres'),
    0.4,
  );

  // issue 25: the in-process RPC paths against REST, gRPC on the HTTP port against gRPC on its own
  // port, in the same run (req/s as measured: each pair shares a server process). With --rounds,
  // one ratio per round (a round's rows are minutes apart at most) and their median is judged.
  const relative = (target: string, transport: string, baseTransport: string, db: string, min: number) => {
    const ofRound = (t: string) => new Map(all('verify-wrong', t, db).map((r) => [r.round ?? 1, r]));
    const rowsOf = ofRound(transport);
    const basesOf = ofRound(baseTransport);
    const pairs = [...rowsOf].flatMap(([round, row]) => {
      const base = basesOf.get(round);
      return base ? [{ row, base, value: row.reqPerSec / base.reqPerSec }] : [];
    });
    if (pairs.length === 0) return;
    const sorted = pairs.map((p) => p.value).sort((a, b) => a - b);
    const median =
      sorted.length % 2
        ? sorted[(sorted.length - 1) / 2]
        : (sorted[sorted.length / 2 - 1] + sorted[sorted.length / 2]) / 2;
    const { row, base } = pairs[0];
    const each =
      pairs.length === 1
        ? `${median.toFixed(2)} (${row.reqPerSec.toFixed(0)} / ${base.reqPerSec.toFixed(0)} req/s)`
        : `median ${median.toFixed(2)} of ${pairs.length} rounds (${pairs.map((p) => p.value.toFixed(2)).join(', ')})`;
    const cpu = pairs.filter((p) => p.row.serverCpuUs !== undefined && p.base.serverCpuUs !== undefined);
    const cpuText =
      cpu.length === 0
        ? ''
        : `; CPU µs/req ${cpu.map((p) => `${p.row.serverCpuUs!.toFixed(0)}/${p.base.serverCpuUs!.toFixed(0)}`).join(', ')}`;
    checks.push({ target, measured: `${each}${cpuText}`, met: median >= min });
  };
  for (const db of ['sqlite', 'postgres'] as const) {
    const name = db === 'sqlite' ? 'SQLite' : 'PostgreSQL';
    relative(`gRPC-web VerifyPhone (wrong code), ${name} ≥ 0.9 × REST's req/s`, 'grpc-web', 'rest', db, 0.9);
    relative(`Connect VerifyPhone (wrong code), ${name} ≥ 0.9 × REST's req/s`, 'connect', 'rest', db, 0.9);
    relative(
      `gRPC on the HTTP port VerifyPhone (wrong code), ${name} ≥ 0.9 × gRPC on its own port`,
      'grpc-http',
      'grpc',
      db,
      0.9,
    );
  }

  const app = rows.filter((r) => r.kind !== 'ceiling');
  if (app.length > 0) {
    const worst = app.reduce((a, b) => (b.p99Ms > a.p99Ms ? b : a));
    const over = app.filter((r) => r.p99Ms > 50);
    checks.push({
      target: `p99 ≤ 50 ms at ${connections} in flight${connections === 64 ? '' : ' (the target is stated for 64)'}`,
      measured: `worst ${worst.p99Ms.toFixed(1)} ms (${worst.title}, ${worst.transport}, ${worst.db}${worst.kind === 'scaling' ? `, ${formatCount(worst.users)} users` : ''}); ${over.length} of ${app.length} rows over 50 ms`,
      met: over.length === 0,
    });
    const rss = app.reduce((a, b) => (b.peakRssMB > a.peakRssMB ? b : a));
    checks.push({
      target: 'server peak RSS ≤ 200 MB',
      measured: `${rss.peakRssMB.toFixed(0)} MB (${rss.title}, ${rss.transport}, ${rss.db})`,
      met: rss.peakRssMB <= 200,
    });
    const errors = app.reduce((n, r) => n + r.errors, 0);
    const requests = app.reduce((n, r) => n + r.ok + r.errors, 0);
    checks.push({ target: 'zero errors under load', measured: `${errors} of ${requests} answers`, met: errors === 0 });
  }

  const scaling = rows.filter((r) => r.kind === 'scaling');
  for (const key of new Set(scaling.map((r) => `${r.scenario}|${r.transport}|${r.db}`))) {
    const series = scaling
      .filter((r) => `${r.scenario}|${r.transport}|${r.db}` === key)
      .sort((a, b) => a.users - b.users);
    if (series.length < 2) continue;
    const small = series[0];
    const large = series[series.length - 1];
    const p50 = large.p50Ms / small.p50Ms;
    const p99 = large.p99Ms / small.p99Ms;
    const raw = `p50 ${p50.toFixed(2)}× (${small.p50Ms.toFixed(1)} → ${large.p50Ms.toFixed(1)} ms), p99 ${p99.toFixed(2)}× (${small.p99Ms.toFixed(1)} → ${large.p99Ms.toFixed(1)} ms)`;
    // against the ceiling measured right before each size: latency × ceiling req/s cancels a machine that got busier
    const norm =
      small.ceilingReqPerSec && large.ceilingReqPerSec ? large.ceilingReqPerSec / small.ceilingReqPerSec : undefined;
    checks.push({
      target: `${small.title} (${small.transport}, ${small.db}): latency at ${formatCount(large.users)} users ≤ 1.2 × at ${formatCount(small.users)}`,
      measured:
        norm === undefined
          ? raw
          : `${raw}; against each size's ceiling: p50 ${(p50 * norm).toFixed(2)}×, p99 ${(p99 * norm).toFixed(2)}×`,
      met: norm === undefined ? p50 <= 1.2 && p99 <= 1.2 : p50 * norm <= 1.2 && p99 * norm <= 1.2,
    });
  }
  return checks;
}

export function formatTargets(checks: TargetCheck[]): string {
  return checks
    .map((c) => `  ${c.met === null ? '  ?  ' : c.met ? ' met ' : 'MISSED'}  ${c.target}: ${c.measured}`)
    .join('\n');
}
