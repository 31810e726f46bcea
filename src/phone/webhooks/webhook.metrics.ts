import { Injectable } from '@nestjs/common';
import { Counter, Gauge } from 'prom-client';
import { Clock } from '../../common/clock';
import { DependencyOutages } from '../../common/errors/dependency-outages';
import { AppLogger } from '../../common/logging/app-logger';
import { Metrics } from '../../common/metrics/metrics';
import { WebhookOutboxRepository } from './webhook-outbox.repository';
import { WebhookSettings } from './webhook.settings';

/** delivered: a 2xx; retry: it failed and waits for another attempt; given_up: it failed for WEBHOOK_MAX_AGE. */
export type WebhookOutcome = 'delivered' | 'retry' | 'given_up';
const OUTCOMES: WebhookOutcome[] = ['delivered', 'retry', 'given_up'];

/** An endpoint as a label: its host and port only (a path or query may carry a token). */
export const endpointLabel = (url: string) => new URL(url).host;

/**
 * Deliveries by endpoint and outcome, and the outbox's backlog read when scraped (each instance
 * reports the shared outbox: take max(), not sum()); NaN while the database cannot answer.
 */
@Injectable()
export class WebhookMetrics {
  private readonly deliveries: Counter<'endpoint' | 'outcome'>;
  private reading?: Promise<{ depth: number; oldestDueAgeSeconds: number } | undefined>;

  constructor(
    metrics: Metrics,
    private readonly config: WebhookSettings,
    private readonly outbox: WebhookOutboxRepository,
    private readonly clock: Clock,
    private readonly outages: DependencyOutages,
    private readonly logger: AppLogger,
  ) {
    logger.setContext(WebhookMetrics.name);
    this.deliveries = new Counter({
      name: 'pv_webhook_deliveries_total',
      help: 'Event webhook delivery attempts by endpoint (host) and outcome (delivered, retry, given_up)',
      labelNames: ['endpoint', 'outcome'],
      registers: [metrics.registry],
    });
    for (const endpoint of config.endpoints()) {
      for (const outcome of OUTCOMES) this.deliveries.inc({ endpoint: endpointLabel(endpoint.url), outcome }, 0);
    }
    const read = () => this.read();
    new Gauge({
      name: 'pv_webhook_outbox_depth',
      help: 'Event webhook deliveries waiting: due, in flight or waiting for a retry',
      registers: [metrics.registry],
      async collect() {
        this.set((await read())?.depth ?? NaN);
      },
    });
    new Gauge({
      name: 'pv_webhook_outbox_oldest_due_age_seconds',
      help: 'How long the oldest due event webhook delivery has been due (0 when none is)',
      registers: [metrics.registry],
      async collect() {
        this.set((await read())?.oldestDueAgeSeconds ?? NaN);
      },
    });
  }

  delivery(url: string, outcome: WebhookOutcome): void {
    this.deliveries.inc({ endpoint: endpointLabel(url), outcome });
  }

  private read() {
    this.reading ??= this.query().finally(() => (this.reading = undefined));
    return this.reading;
  }

  private async query() {
    // without endpoints nothing waits (the start's drain gave up what was left): no query per scrape
    if (this.config.endpoints().length === 0) return { depth: 0, oldestDueAgeSeconds: 0 };
    const now = this.clock.now();
    try {
      const { depth, oldestDueAt } = await this.outbox.backlog(now);
      const ageMs = oldestDueAt ? Math.max(0, now.getTime() - oldestDueAt.getTime()) : 0;
      return { depth, oldestDueAgeSeconds: ageMs / 1000 };
    } catch (error) {
      if (!this.outages.databaseFailed(error))
        this.logger.error({ err: error }, 'webhook outbox gauges could not be read');
      return undefined;
    }
  }
}
