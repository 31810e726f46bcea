/**
 * A task run on an interval timer, unref'd (it keeps no process alive) and stoppable; a tick while
 * the last tick's run is still under way is skipped. A run's failure is its own to report.
 */
export class PeriodicTask {
  private timer?: NodeJS.Timeout;
  private running = false;

  constructor(private readonly run: () => Promise<unknown>) {}

  start(everyMs: number): void {
    this.timer = setInterval(() => this.tick(), everyMs);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  private tick(): void {
    if (this.running) return;
    this.running = true;
    void this.run()
      .catch(() => undefined)
      .finally(() => (this.running = false));
  }
}
