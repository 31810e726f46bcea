import { Injectable } from '@nestjs/common';
import { failed, Outcome, succeeded } from '../../common/outcome';
import { SmsAccepted, SmsDeliveryError, SmsSender, withoutCode } from '../sms/sms-sender';
import { SmsText } from '../sms/sms-text';
import { OutboxCipher } from './outbox-cipher';
import { DeliveryTarget } from './sms-delivery-rows';
import { SmsOutboxEntity } from './sms-outbox.entity';

/** Opens a message's sealed code, writes its text and hands it to the provider chain. */
@Injectable()
export class SmsDispatcher {
  constructor(
    private readonly cipher: OutboxCipher,
    private readonly smsText: SmsText,
    private readonly sender: SmsSender,
  ) {}

  /** The provider chain's name, as failures are counted under it. */
  get provider(): string {
    return this.sender.name;
  }

  /** What the provider took, or why it did not; a failure's reason never holds the code. */
  async send(
    row: SmsOutboxEntity,
    { user, expiresAt }: DeliveryTarget,
    failedBefore: string[],
  ): Promise<Outcome<SmsAccepted, SmsDeliveryError>> {
    let code: string | undefined;
    try {
      code = this.cipher.open(row.id, row.sealedCode!);
      const text = this.smsText.render({ code, displayName: user.displayName, language: user.preferredLanguage });
      return succeeded(
        await this.sender.send({
          id: row.id,
          to: row.recipient,
          text,
          code,
          userId: row.userId,
          orgId: row.orgId,
          expiresAt,
          ...(failedBefore.length > 0 ? { skipProviders: failedBefore } : {}),
        }),
      );
    } catch (error) {
      const delivery =
        error instanceof SmsDeliveryError
          ? error
          : new SmsDeliveryError(String((error as Error)?.message ?? error), true);
      // the reason is logged, stored and put in an event: a provider echoing the text must not leak the code
      return failed(code ? withoutCode(delivery, code) : delivery);
    }
  }
}
