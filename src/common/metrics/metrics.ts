import { collectDefaultMetrics, Registry } from 'prom-client';

/**
 * The app's own Prometheus registry, so that two apps in one process (tests) never share a counter;
 * each series is declared by the module that counts it.
 */
export class Metrics {
  readonly registry = new Registry();

  constructor() {
    // prom-client's process and Node.js series (CPU, memory, heap, event-loop lag, GC, handles),
    // under their usual unprefixed names; most are read when scraped
    collectDefaultMetrics({ register: this.registry });
  }
}
