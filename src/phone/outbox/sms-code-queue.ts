import { Injectable } from '@nestjs/common';
import { IdGenerator } from '../../common/ids/id-generator';
import type { Tx } from '../../database/sql';
import { UserEntity } from '../../users/entities/user.entity';
import { ChannelWorkflow } from '../channels/channel-workflow';
import { workflowText } from '../channels/channel-routes';
import { Channel } from '../sms/channels';
import { SmsSettings } from '../sms/sms.settings';
import { OutboxCipher } from './outbox-cipher';
import { SmsOutboxRepository } from './sms-outbox.repository';

/** A code to send by SMS, as the issuer hands it over. */
export interface CodeToSend {
  user: Pick<UserEntity, 'id' | 'orgId'>;
  recipient: string;
  code: string;
  codeId: string;
  expiresAt: Date;
  now: Date;
  /** the request's correlation id, which the delivery's events carry */
  correlationId?: string;
  /** a risk hook's channel for the first step (then the route's others) */
  channel?: Channel;
}

/**
 * Queues a code's message in the outbox, sealed, in the transaction that stores the code (ADR
 * 0014), at the first step of its channel workflow (ADR 0028).
 */
@Injectable()
export class SmsCodeQueue {
  constructor(
    private readonly sms: SmsSettings,
    private readonly ids: IdGenerator,
    private readonly outbox: SmsOutboxRepository,
    private readonly cipher: OutboxCipher,
    private readonly workflow: ChannelWorkflow,
  ) {}

  /** Queues the message; resolves with the channel of its first step at once, and the write in flight. */
  enqueue(
    tx: Tx,
    { user, recipient, code, codeId, expiresAt, now, correlationId, channel }: CodeToSend,
  ): { channel: Channel; queued: Promise<void> } {
    const outboxId = this.ids.next();
    const channels = this.workflow.channelsFor(recipient, channel);
    const steps = { channel: channels[0], channels: workflowText(channels), step: 0 };
    const queued = this.outbox.enqueue(tx, {
      id: outboxId,
      codeId,
      userId: user.id,
      orgId: user.orgId,
      recipient,
      sealedCode: this.cipher.seal(outboxId, code),
      status: 'pending',
      attempts: 0,
      nextAttemptAt: now,
      lockedUntil: null,
      createdAt: now,
      giveUpAt: new Date(Math.min(now.getTime() + this.sms.outbox.maxAgeMs, expiresAt.getTime())),
      lastError: null,
      provider: null,
      finishedAt: null,
      correlationId: correlationId ?? null,
      ...steps,
      stepDueAt: this.workflow.stepDueAt(steps, channels[0], now),
    });
    return { channel: channels[0], queued };
  }
}
