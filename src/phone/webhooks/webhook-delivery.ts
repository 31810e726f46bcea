import { Injectable } from '@nestjs/common';
import { Clock } from '../../common/clock';
import { AppLogger } from '../../common/logging/app-logger';
import { Database } from '../../database/sql';
import { nextAttemptAt, RetrySettings } from '../outbox/retry-schedule';
import { WebhookOutboxEntity } from './webhook-outbox.entity';
import { WebhookOutboxRepository } from './webhook-outbox.repository';
import { endpointLabel, WebhookMetrics } from './webhook.metrics';
import { WEBHOOK_SIGNATURE_HEADER, signWebhook } from './webhook-signature';
import { WebhookSettings } from './webhook.settings';

/** One claimed row: signed and posted (no transaction is open meanwhile: ADR 0013), then its outcome recorded. */
@Injectable()
export class WebhookDelivery {
  private readonly retry: RetrySettings;

  constructor(
    private readonly config: WebhookSettings,
    private readonly db: Database,
    private readonly outbox: WebhookOutboxRepository,
    private readonly metrics: WebhookMetrics,
    private readonly clock: Clock,
    private readonly logger: AppLogger,
  ) {
    logger.setContext(WebhookDelivery.name);
    this.retry = { baseMs: config.retryBaseMs, maxDelayMs: config.retryMaxDelayMs };
  }

  async deliver(row: WebhookOutboxEntity): Promise<void> {
    const endpoint = this.config.endpoints().find((candidate) => candidate.url === row.endpoint);
    if (!endpoint) return this.giveUp(row, 'the endpoint is no longer in EVENT_WEBHOOKS');
    const failure = await this.post(row, endpoint.secret);
    const at = this.clock.now();
    if (failure === undefined) {
      if (await this.db.transaction((tx) => this.outbox.finish(tx, row, 'delivered', at, null))) {
        this.metrics.delivery(row.endpoint, 'delivered');
      }
      return;
    }
    // a row held back behind an earlier one may be past its life at its first attempt: it had that one
    const next = nextAttemptAt(at.getTime(), row.attempts, row.giveUpAt.getTime(), this.retry);
    if (next === undefined) return this.giveUp(row, failure);
    if (await this.db.transaction((tx) => this.outbox.retryLater(tx, row, new Date(next), failure))) {
      this.metrics.delivery(row.endpoint, 'retry');
    }
  }

  /** undefined for a 2xx, else why not (a status, a timeout, a refused connection). */
  private async post(row: WebhookOutboxEntity, secret: string): Promise<string | undefined> {
    const timestamp = Math.floor(this.clock.now().getTime() / 1000);
    try {
      const response = await fetch(row.endpoint, {
        method: 'POST',
        headers: {
          'Content-Type': 'application/json',
          'User-Agent': 'phone-verify-webhooks',
          [WEBHOOK_SIGNATURE_HEADER]: signWebhook(secret, timestamp, row.body),
        },
        body: row.body,
        // a redirect would take the event elsewhere: it is a failure, as any other non-2xx
        redirect: 'manual',
        signal: AbortSignal.timeout(this.config.timeoutMs),
      });
      await response.body?.cancel().catch(() => undefined);
      return response.status >= 200 && response.status < 300 ? undefined : `HTTP ${response.status}`;
    } catch (error) {
      const name = (error as { name?: string } | undefined)?.name;
      if (name === 'TimeoutError' || name === 'AbortError') return `no answer within ${this.config.timeoutMs} ms`;
      const cause = (error as { cause?: { code?: string } } | undefined)?.cause?.code;
      return `network error${cause ? ` (${cause})` : ''}`;
    }
  }

  private async giveUp(row: WebhookOutboxEntity, reason: string): Promise<void> {
    const at = this.clock.now();
    if (!(await this.db.transaction((tx) => this.outbox.finish(tx, row, 'failed', at, reason)))) return;
    this.metrics.delivery(row.endpoint, 'given_up');
    this.logger.warn(
      {
        webhookId: row.id,
        eventId: row.eventId,
        eventType: row.eventType,
        endpoint: endpointLabel(row.endpoint),
        attempts: row.attempts,
        reason,
      },
      'event webhook given up',
    );
  }
}
