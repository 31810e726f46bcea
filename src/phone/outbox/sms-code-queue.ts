import { Injectable } from '@nestjs/common';
import { IdGenerator } from '../../common/ids/id-generator';
import type { Tx } from '../../database/sql';
import { UserEntity } from '../../users/entities/user.entity';
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
}

/** Queues a code's SMS in the outbox, sealed, in the transaction that stores the code (ADR 0014). */
@Injectable()
export class SmsCodeQueue {
  constructor(
    private readonly sms: SmsSettings,
    private readonly ids: IdGenerator,
    private readonly outbox: SmsOutboxRepository,
    private readonly cipher: OutboxCipher,
  ) {}

  enqueue(tx: Tx, { user, recipient, code, codeId, expiresAt, now, correlationId }: CodeToSend): Promise<void> {
    const outboxId = this.ids.next();
    return this.outbox.enqueue(tx, {
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
    });
  }
}
