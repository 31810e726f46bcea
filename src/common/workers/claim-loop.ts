import { DependencyOutages } from '../errors/dependency-outages';
import { AppLogger } from '../logging/app-logger';

/** What one outbox's worker claims and delivers; the loop around it is the same for every outbox (ADR 0014). */
export interface ClaimJob<Row> {
  /** Deliveries that may run side by side. */
  concurrency(): number;
  /** Claims up to `free` due rows, each with a lease, in one transaction. */
  claim(free: number): Promise<Row[]>;
  deliver(row: Row): Promise<void>;
  /**
   * When an ended delivery looks for more: 'always' (a row may have waited on this one), or
   * 'onBacklog' (only when the last claim filled every free slot, so more may be due).
   */
  lookAgain: 'always' | 'onBacklog';
  /** The log's fields for a row whose delivery failed unexpectedly. */
  describe(row: Row): object;
  drainFailed: string;
  deliveryFailed: string;
}

/**
 * Drains an outbox, woken by kick() and on a timer: one claim at a time (kicks meanwhile coalesce
 * into one more), deliveries side by side without waiting for them, and stop() waits for those in
 * flight. A database outage is logged once for all (the row stays due); anything else is a bug.
 */
export class ClaimLoop<Row> {
  private timer?: NodeJS.Timeout;
  private claiming?: Promise<void>;
  private again = false;
  /** the last claim took as many rows as there were free slots: more may be due */
  private backlog = false;
  private stopped = false;
  private readonly inFlight = new Set<Promise<void>>();

  constructor(
    private readonly job: ClaimJob<Row>,
    private readonly logger: AppLogger,
    private readonly outages: DependencyOutages,
  ) {}

  /** Looks now, and every `pollIntervalMs` unless undefined (unref'd: it keeps no process alive). */
  start(pollIntervalMs: number | undefined): void {
    if (pollIntervalMs !== undefined) {
      this.timer = setInterval(() => this.kick(), pollIntervalMs);
      this.timer.unref();
    }
    this.kick();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    await this.idle();
  }

  /** Started with a timer and not stopped. */
  get running(): boolean {
    return this.timer !== undefined && !this.stopped;
  }

  /** Look for due rows now (coalesced: one claim at a time). */
  kick(): void {
    if (this.stopped) return;
    if (this.claiming) {
      this.again = true;
      return;
    }
    this.claiming = this.fill()
      .catch((error: unknown) => this.failed(error, {}, this.job.drainFailed))
      .finally(() => {
        this.claiming = undefined;
        if (this.again) {
          this.again = false;
          this.kick();
        }
      });
  }

  /** Resolves once nothing is being claimed or delivered (tests and shutdown). */
  async idle(): Promise<void> {
    while (this.claiming || this.inFlight.size > 0) await Promise.all([this.claiming, ...this.inFlight]);
  }

  /** Claims due rows for the free slots and starts their deliveries without waiting for them. */
  private async fill(): Promise<void> {
    while (!this.stopped) {
      const free = this.job.concurrency() - this.inFlight.size;
      if (free <= 0) {
        this.backlog = true; // a delivery that ends looks again
        return;
      }
      const rows = await this.job.claim(free);
      for (const row of rows) this.deliver(row);
      if (rows.length < free) {
        this.backlog = false;
        return;
      }
    }
  }

  private failed(error: unknown, context: object, message: string): void {
    if (!this.outages.databaseFailed(error)) this.logger.error({ err: error, ...context }, message);
  }

  private deliver(row: Row): void {
    const delivery: Promise<void> = this.job
      .deliver(row)
      .catch((error: unknown) => this.failed(error, this.job.describe(row), this.job.deliveryFailed))
      .finally(() => {
        this.inFlight.delete(delivery);
        if (this.job.lookAgain === 'always' || this.backlog) this.kick();
      });
    this.inFlight.add(delivery);
  }
}
