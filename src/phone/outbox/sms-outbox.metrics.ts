import { Injectable } from '@nestjs/common';
import { Gauge } from 'prom-client';
import { Clock } from '../../common/clock';
import { DependencyOutages } from '../../common/errors/dependency-outages';
import { AppLogger } from '../../common/logging/app-logger';
import { Metrics } from '../../common/metrics/metrics';
import { CHANNELS } from '../sms/channels';
import { SmsOutboxRepository } from './sms-outbox.repository';

interface Reading {
  depth: number;
  oldestDueAgeSeconds: number;
  byChannel: Map<string, number>;
}

/**
 * The outbox's gauges, read when scraped: each instance reports the shared outbox (take max(), not
 * sum()). A database that cannot answer makes them NaN, unknown rather than stale.
 */
@Injectable()
export class SmsOutboxMetrics {
  private reading?: Promise<Reading | undefined>;
  private broken = false;

  constructor(
    metrics: Metrics,
    private readonly outbox: SmsOutboxRepository,
    private readonly clock: Clock,
    private readonly outages: DependencyOutages,
    private readonly logger: AppLogger,
  ) {
    logger.setContext(SmsOutboxMetrics.name);
    const read = () => this.read();
    new Gauge({
      name: 'pv_sms_outbox_depth',
      help: 'SMS waiting in the outbox: due, in flight or waiting for a retry',
      registers: [metrics.registry],
      async collect() {
        const backlog = await read();
        this.set(backlog?.depth ?? NaN);
      },
    });
    new Gauge({
      name: 'pv_outbox_channel_depth',
      help: 'Codes waiting in the outbox by the channel of their current step (sms, whatsapp, voice)',
      labelNames: ['channel'],
      registers: [metrics.registry],
      async collect() {
        const backlog = await read();
        for (const channel of CHANNELS) this.set({ channel }, backlog ? (backlog.byChannel.get(channel) ?? 0) : NaN);
      },
    });
    new Gauge({
      name: 'pv_sms_outbox_oldest_due_age_seconds',
      help: 'How long the oldest due SMS of the outbox has been due (0 when none is)',
      registers: [metrics.registry],
      async collect() {
        const backlog = await read();
        this.set(backlog?.oldestDueAgeSeconds ?? NaN);
      },
    });
  }

  /** One query for the gauges of one scrape: they are collected at once. */
  private read(): Promise<Reading | undefined> {
    this.reading ??= this.query().finally(() => (this.reading = undefined));
    return this.reading;
  }

  private async query(): Promise<Reading | undefined> {
    const now = this.clock.now();
    try {
      const { depth, oldestDueAt, byChannel } = await this.outbox.backlog(now);
      this.broken = false;
      const ageMs = oldestDueAt ? Math.max(0, now.getTime() - oldestDueAt.getTime()) : 0;
      return { depth, oldestDueAgeSeconds: ageMs / 1000, byChannel };
    } catch (error) {
      // a database outage is logged by DependencyOutages, once; anything else is a bug, logged once until a scrape succeeds
      if (!this.outages.databaseFailed(error) && !this.broken) {
        this.broken = true;
        this.logger.error({ err: error }, 'SMS outbox gauges could not be read');
      }
      return undefined;
    }
  }
}
