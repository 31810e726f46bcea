import { collectDefaultMetrics, Registry } from 'prom-client';

/**
 * The app's one Prometheus registry. Every series is declared by the module that counts it, on
 * this registry (`registers: [metrics.registry]`), so that two apps in one process (tests) never
 * share a counter. It is served by the management listener (`METRICS_PORT`); with that off, the
 * series still count (an increment is a few nanoseconds) and nobody reads them.
 */
export class Metrics {
  readonly registry = new Registry();

  constructor() {
    // prom-client's process and Node.js series (CPU, memory, heap, event-loop lag, GC, handles),
    // under their usual unprefixed names; most are read when scraped
    collectDefaultMetrics({ register: this.registry });
  }
}
