/** Latencies of one measured run, in milliseconds, kept whole so percentiles are exact. */
export class LatencyRecorder {
  private values = new Float64Array(1 << 16);
  private size = 0;

  record(ms: number): void {
    if (this.size === this.values.length) {
      const bigger = new Float64Array(this.values.length * 2);
      bigger.set(this.values);
      this.values = bigger;
    }
    this.values[this.size++] = ms;
  }

  get count(): number {
    return this.size;
  }

  summary(): LatencySummary {
    const sorted = this.values.slice(0, this.size).sort();
    const at = (p: number) => (sorted.length ? sorted[Math.max(0, Math.ceil(p * sorted.length) - 1)] : 0);
    let sum = 0;
    for (const v of sorted) sum += v;
    return {
      p50: at(0.5),
      p90: at(0.9),
      p99: at(0.99),
      max: sorted.length ? sorted[sorted.length - 1] : 0,
      mean: sorted.length ? sum / sorted.length : 0,
    };
  }
}

export interface LatencySummary {
  p50: number;
  p90: number;
  p99: number;
  max: number;
  mean: number;
}

/** What one driver run measured: answers counted as the scenario expects, and how long it took. */
export interface RunMeasurement {
  /** Answers the scenario expects (2xx / OK, or the expected wrong-code error). */
  ok: number;
  /** Anything else: other statuses, connection errors, timeouts. */
  errors: number;
  /** Error kinds with their counts, most frequent first. */
  errorKinds: string[];
  elapsedMs: number;
  latency: LatencySummary;
  /** Set when a scenario ran out of prepared users before the time was up. */
  stoppedEarly?: string;
}

/** Collects the outcome of each answer. */
export class Tally {
  ok = 0;
  errors = 0;
  private readonly seen = new Map<string, number>();

  success(): void {
    this.ok++;
  }

  failure(what: string): void {
    this.errors++;
    const key = what.slice(0, 200);
    this.seen.set(key, (this.seen.get(key) ?? 0) + 1);
  }

  kinds(): string[] {
    return [...this.seen.entries()].sort((a, b) => b[1] - a[1]).map(([k, n]) => `${n}× ${k}`);
  }
}
