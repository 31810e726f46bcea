import { Module } from '@nestjs/common';
import { WebhookDelivery } from './webhook-delivery';
import { WebhookOutboxRepository } from './webhook-outbox.repository';
import { WebhookTap } from './webhook-tap';
import { WebhookMetrics } from './webhook.metrics';
import { WebhookWorker } from './webhook.worker';

/** Event webhooks (ADR 0024): the tap that writes the outbox with the events, and the worker that drains it. */
@Module({
  providers: [WebhookTap, WebhookOutboxRepository, WebhookDelivery, WebhookMetrics, WebhookWorker],
  exports: [WebhookOutboxRepository],
})
export class WebhooksModule {}
